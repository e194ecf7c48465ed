// One chat, live: new messages appear at the bottom, delivery states change in place,
// a close shows at once. The view follows new messages only when the reader is already
// at the bottom; otherwise a "New messages" button offers to jump there.
// "Load older messages" puts the page before the oldest shown above it, keeping in
// place what the reader is looking at. A page of older messages opened by its link
// (?before=, data-latest-url set) shows that stretch only: new messages go to the latest.

import { csrfFetch, elementFrom } from "./app.js";
import { setupClosePanel, setupComposer, setupNoteForm } from "./chat-forms.js";
import { markDays } from "./days.js";
import { deliveryNote, errorOf, moveRecipient } from "./deliveries.js";
import { connectLive } from "./live.js";
import { showTyping } from "./typing.js";

const CLOSE_REASONS = {
  staff: "by staff",
  api: "through the API",
  expired: "because it expired",
};
const NEAR_BOTTOM_PX = 48;
const COALESCE_MS = 80;

function setup(page) {
  const chatId = page.dataset.chatId;
  const scroller = document.getElementById("thread-scroll");
  const thread = document.getElementById("thread");
  const history = document.getElementById("thread-history");
  const olderStatus = document.getElementById("thread-older-status");
  const latestUrl = page.dataset.latestUrl;
  const jump = document.getElementById("jump-latest");
  const emptyNote = scroller.querySelector('[data-role="empty"]');
  const composer = document.getElementById("composer");
  const since = Number.parseInt(page.dataset.lastEventId ?? "", 10);
  const pending = new Set();
  let timer = null;
  let unseen = null; // newest message id shown but not yet reported as read

  const atBottom = () =>
    scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight <= NEAR_BOTTOM_PX;
  const toBottom = () => {
    scroller.scrollTop = scroller.scrollHeight;
    jump.hidden = true;
  };
  const bubble = (id) => scroller.querySelector(`.bubble[data-message-id="${CSS.escape(id)}"]`);
  const noteCard = (id) => scroller.querySelector(`.note-card[data-note-id="${CSS.escape(id)}"]`);
  const olderRemain = () => scroller.querySelector('[data-role="load-older"]') !== null;

  async function fragment(template, id) {
    // One bubble or note card from the server, or null (offline, signed out, gone).
    const url = template.replace("__ID__", encodeURIComponent(id));
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (!response.ok || response.redirected) return null;
      return elementFrom(await response.text());
    } catch {
      return null;
    }
  }

  function place(element) {
    // In time order: a slow fetch for an older message must not land below a newer one.
    const order = Number(element.dataset.order);
    const later = [...thread.children].find((other) => Number(other.dataset.order) > order);
    if (later) later.before(element);
    else thread.append(element);
  }

  async function load(id) {
    const fresh = await fragment(page.dataset.messageUrl, id);
    if (!fresh) return;
    const existing = bubble(id);
    if (existing) {
      mergeDeliveries(existing, fresh);
      return;
    }
    if (latestUrl) return; // a page of older messages: new ones belong to the latest
    // A late receipt for a message older than any shown: its bubble belongs to a page
    // not loaded yet, not at the top of this one.
    const oldest = scroller.querySelector(".bubble");
    if (oldest && olderRemain() && Number(fresh.dataset.order) < Number(oldest.dataset.order)) return;
    const follow = atBottom();
    place(fresh);
    markDays(scroller);
    if (emptyNote) emptyNote.hidden = true;
    if (follow) toBottom();
    else jump.hidden = false;
    unseen = id;
    reportRead();
  }

  async function loadNote(id) {
    // A private note (note.created, or this page's own note form): shown where its time
    // puts it, once, like a message.
    if (latestUrl || noteCard(id)) return;
    const fresh = await fragment(page.dataset.noteUrl, id);
    if (!fresh || noteCard(id)) return;
    const follow = atBottom();
    place(fresh);
    markDays(scroller);
    if (emptyNote) emptyNote.hidden = true;
    if (follow) toBottom();
    else jump.hidden = false;
  }

  async function refresh(id) {
    // A held message was decided: its note and buttons change, and a release brings
    // the SMS it caused. Nothing else in the bubble moves, so it is replaced whole.
    if (!bubble(id)) return;
    const fresh = await fragment(page.dataset.messageUrl, id);
    if (fresh) bubble(id)?.replaceWith(fresh);
  }

  function showOptedOut(participantId, optedOut) {
    if (!participantId) return;
    const person = document.querySelector(
      `.person[data-participant-id="${CSS.escape(participantId)}"] [data-role="opted-out"]`,
    );
    if (person) person.hidden = !optedOut;
  }

  function mergeDeliveries(existing, fresh) {
    // Add only the deliveries the bubble lacks. Those it shows are kept current by live
    // events, which arrive in order; this response may have been read before the newest
    // of them and would move a badge back (Delivered -> Sent). Leaving the message itself
    // alone also keeps screen readers from announcing it again.
    const list = existing.querySelector(".deliveries");
    const update = fresh.querySelector(".deliveries");
    if (!update) return;
    if (!list) {
      existing.querySelector(".deliveries-none")?.remove();
      existing.append(update);
      return;
    }
    for (const recipient of update.querySelectorAll(".recipient[data-delivery-id]")) {
      const id = CSS.escape(recipient.dataset.deliveryId);
      if (list.querySelector(`[data-delivery-id="${id}"]`)) continue;
      const group = recipient.closest(".delivery");
      const [status, error] = [group.dataset.status, errorOf(group)];
      recipient.remove(); // out of the fresh copy: it joins a group of this bubble
      moveRecipient(list, recipient, status, error);
    }
  }

  function schedule(id) {
    pending.add(id);
    timer ??= setTimeout(async () => {
      timer = null;
      const ids = [...pending];
      pending.clear();
      for (const id of ids) await load(id);
    }, COALESCE_MS);
  }

  function updateDelivery(data) {
    const id = CSS.escape(data.delivery_id);
    const recipient = scroller.querySelector(`.recipient[data-delivery-id="${id}"]`);
    if (!recipient) {
      if (data.message_id) schedule(data.message_id);
      return;
    }
    moveRecipient(recipient.closest(".deliveries"), recipient, data.status, deliveryNote(data));
  }

  function showClosed(data) {
    page.dataset.status = "closed";
    const status = document.getElementById("chat-status");
    status.className = "badge badge-closed";
    status.textContent = "Closed";
    document.getElementById("chat-actions")?.remove();
    document.getElementById("reopen-actions")?.removeAttribute("hidden");
    document.querySelector("#chat-terms details.extend")?.remove();
    composer?.remove();
    const note = document.getElementById("closed-note");
    if (data.close_reason) {
      note.querySelector('[data-role="closed-text"]').textContent =
        `This chat was closed ${CLOSE_REASONS[data.close_reason] ?? `(${data.close_reason})`}`;
    }
    note.hidden = false;
  }

  async function refreshTriage() {
    // Assignee and labels as the server renders them now; what is being typed stays.
    let response;
    try {
      response = await fetch(page.dataset.triageUrl, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
      });
    } catch {
      return;
    }
    if (!response.ok || response.redirected) return;
    const fresh = elementFrom(await response.text());
    const current = document.getElementById("chat-triage");
    if (!fresh || !current) return;
    const typing = current.querySelector("#label-input");
    const focused = document.activeElement?.id;
    fresh.querySelector("#label-input").value = typing?.value ?? "";
    current.replaceWith(fresh);
    if (focused && fresh.querySelector(`#${CSS.escape(focused)}`)) {
      document.getElementById(focused)?.focus();
    }
  }

  let readTimer = null;
  function reportRead() {
    if (!unseen || document.visibilityState !== "visible") return;
    clearTimeout(readTimer);
    readTimer = setTimeout(() => {
      const id = unseen;
      unseen = null;
      const body = new URLSearchParams({ message_id: id });
      csrfFetch(page.dataset.readUrl, { method: "POST", body }).catch(() => {
        unseen ??= id;
      });
    }, 500);
  }
  document.addEventListener("visibilitychange", reportRead);

  const typingNote = document.getElementById("typing-note");
  const live = connectLive({
    topic: `chat:${chatId}`,
    onTyping: showTyping(typingNote),
    since: Number.isInteger(since) ? since : null,
    onEvent(event) {
      if (event.chat_id !== chatId) return; // the navigation's (unrouted SMS): shell.js
      const data = event.data ?? {};
      if (event.name === "message.created") schedule(data.id);
      else if (event.name === "delivery.updated") updateDelivery(data);
      else if (event.name === "chat.closed") showClosed(data);
      // Reopened (here or elsewhere): the page as it is now, composer and all.
      else if (event.name === "chat.reopened" && page.dataset.status === "closed") location.reload();
      else if (event.name === "chat.assigned" || event.name === "chat.labelled") refreshTriage();
      else if (event.name === "note.created") loadNote(data.id);
      else if (event.name === "message.released" || event.name === "message.rejected") {
        refresh(data.id);
      } else if (event.name === "participant.opted_out") showOptedOut(data.participant_id, true);
      else if (event.name === "participant.opted_in") showOptedOut(data.participant_id, false);
    },
  });

  scroller.addEventListener("scroll", () => {
    if (atBottom()) jump.hidden = true;
  });
  scroller.addEventListener("click", (event) => {
    const link = event.target.closest('[data-role="load-older"]');
    if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
      return; // a new tab or window gets the page of its own
    }
    event.preventDefault();
    loadOlder(link);
  });

  let loadingOlder = false;
  async function loadOlder(link) {
    if (loadingOlder) return;
    loadingOlder = true;
    link.setAttribute("aria-disabled", "true");
    olderStatus.textContent = "Loading older messages…";
    let response;
    try {
      response = await fetch(link.dataset.fragmentUrl, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
      });
    } catch {
      olderStatus.textContent = "Could not reach the server: older messages were not loaded.";
      link.removeAttribute("aria-disabled");
      loadingOlder = false;
      return;
    }
    if (!response.ok || response.redirected) {
      // Signed out, or the link went stale: the page itself says what is wrong.
      location.assign(link.href);
      return;
    }
    const older = elementFrom(await response.text());
    const keep = firstVisibleBubble();
    const keepTop = keep?.getBoundingClientRect().top;
    const fresh = [...older.querySelector('[data-role="bubbles"]').children].filter((element) =>
      element.dataset.noteId ? !noteCard(element.dataset.noteId) : !bubble(element.dataset.messageId),
    );
    history.prepend(...fresh);
    markDays(scroller);
    const control = older.querySelector("#thread-older");
    document.getElementById("thread-older").replaceWith(control);
    if (keep) scroller.scrollTop += keep.getBoundingClientRect().top - keepTop;
    const count = fresh.length;
    olderStatus.textContent = `Loaded ${count} older message${count === 1 ? "" : "s"}.`;
    // Keep the keyboard where the link was, without scrolling the reader away.
    control.querySelector('[data-role="load-older"], [data-role="thread-start"]')?.focus({
      preventScroll: true,
    });
    loadingOlder = false;
  }

  function firstVisibleBubble() {
    const top = scroller.getBoundingClientRect().top;
    return [...scroller.querySelectorAll(".bubble")].find(
      (element) => element.getBoundingClientRect().bottom > top,
    );
  }
  jump.addEventListener("click", () => {
    toBottom();
    scroller.focus();
  });
  markDays(scroller);
  // Opened from a search hit: that message, in the middle of the view, not the newest.
  // Opened from a search hit: that message, in the middle of the thread, not the newest.
  // (The hit's link has no #msg- fragment: the browser would scroll the whole window to
  // put it at the very top.)
  const found = page.dataset.foundId ? bubble(page.dataset.foundId) : null;
  if (found) {
    scroller.scrollTop +=
      found.getBoundingClientRect().top -
      scroller.getBoundingClientRect().top -
      (scroller.clientHeight - found.offsetHeight) / 2;
  } else {
    toBottom();
  }

  if (composer) setupComposer(composer, { schedule, loadNote, toBottom, latestUrl, live });
  setupClosePanel(document.querySelector("#chat-actions details.popover"));
  const noteForm = document.getElementById("note-form");
  if (noteForm) setupNoteForm(noteForm, { loadNote, toBottom, latestUrl });
}

// The extend form's date is in the browser's time zone: send its offset beside it.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.matches('[data-role="extend-form"]')) return;
  const value = form.querySelector('input[type="datetime-local"]')?.value;
  const chosen = value ? new Date(value) : new Date();
  const minutes = Number.isNaN(chosen.getTime())
    ? new Date().getTimezoneOffset()
    : chosen.getTimezoneOffset();
  form.querySelector('[data-role="tz-offset"]').value = String(minutes);
});

const page = document.getElementById("chat-page");
if (page) setup(page);
