// One chat, live: new messages appear at the bottom, delivery states change in place,
// a close shows at once. The view follows new messages only when the reader is already
// at the bottom; otherwise a "New messages" button offers to jump there.
// "Load older messages" puts the page before the oldest shown above it, keeping in
// place what the reader is looking at. A page of older messages opened by its link
// (?before=, data-latest-url set) shows that stretch only: new messages go to the latest.

import { csrfFetch, elementFrom } from "./app.js";
import { connectLive } from "./live.js";
import { describeCost } from "./sms.js";

const LABELS = {
  queued: "Queued",
  sending: "Sending",
  sent: "Sent",
  delivered: "Delivered",
  failed: "Failed",
  rejected: "Rejected",
  expired: "Expired",
  suppressed: "Not sent",
};
const CLOSE_REASONS = {
  staff: "by staff",
  api: "through the API",
  expired: "because it expired",
};
const NEAR_BOTTOM_PX = 48;
const COALESCE_MS = 80;

const dayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full" });
const relativeDays = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

function dayKey(date) {
  return `${date.getFullYear()}-${date.getMonth() + 1}-${date.getDate()}`;
}

/** "Today", "Yesterday", else the full local date. */
function dayLabel(date, now = new Date()) {
  const start = (day) => new Date(day.getFullYear(), day.getMonth(), day.getDate()).getTime();
  const days = Math.round((start(date) - start(now)) / 86_400_000);
  if (days === 0 || days === -1) {
    const text = relativeDays.format(days, "day");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }
  return dayFormat.format(date);
}

/** A heading before the first message of each day (local time), across the thread's
 *  parts; only what changed is touched, so screen readers hear only new days. */
function markDays(scroller) {
  let previous = null;
  for (const bubble of scroller.querySelectorAll(".bubble")) {
    const when = new Date(bubble.querySelector("time[datetime]")?.getAttribute("datetime"));
    if (Number.isNaN(when.getTime())) continue;
    const key = dayKey(when);
    const before = bubble.previousElementSibling;
    const marker = before?.classList.contains("day-separator") ? before : null;
    if (key === previous) {
      marker?.remove();
      continue;
    }
    previous = key;
    if (marker?.dataset.day === key) continue;
    marker?.remove();
    const heading = document.createElement("h2");
    heading.className = "day-separator";
    heading.dataset.day = key;
    const label = document.createElement("span");
    label.textContent = dayLabel(when);
    heading.append(label);
    bubble.before(heading);
  }
}

function setBadge(group, status, error) {
  group.dataset.status = status;
  const badge = group.querySelector('[data-role="status"]');
  badge.className = `badge badge-${status}`;
  badge.dataset.status = status;
  badge.textContent = LABELS[status] ?? status;
  const shown = group.querySelector('[data-role="error"]');
  shown.textContent = error;
  shown.hidden = !error;
}

const errorOf = (group) => group.querySelector('[data-role="error"]').textContent;

/** The group of a bubble's deliveries in this state (and with this error), if any. */
function groupIn(list, status, error) {
  return [...list.children].find(
    (group) => group.dataset.status === status && errorOf(group) === error,
  );
}

function newGroup(status, error) {
  const group = document.createElement("li");
  group.className = "delivery";
  group.innerHTML = `<span class="delivery-to">to </span> <span data-role="status"></span>
    <span class="delivery-error" data-role="error" hidden></span>`;
  setBadge(group, status, error);
  return group;
}

/** Put a recipient in the group of its SMS's state, making one when none is. */
function moveRecipient(list, recipient, status, error) {
  const from = recipient.closest(".delivery");
  if (from && from.dataset.status === status && errorOf(from) === error) return;
  let to = groupIn(list, status, error);
  if (!to && from && from.querySelectorAll(".recipient").length === 1) {
    setBadge(from, status, error); // alone in its group: the group changes state
    return;
  }
  if (!to) {
    to = newGroup(status, error);
    list.append(to);
  }
  // In the chat's order of people, whatever order their SMS changed state in.
  const order = Number(recipient.dataset.order);
  const later = [...to.querySelectorAll(".recipient")].find(
    (other) => Number(other.dataset.order) > order,
  );
  if (later) later.before(recipient);
  else to.querySelector(".delivery-to").append(recipient);
  if (from && !from.querySelector(".recipient")) from.remove();
}

/** Show `message` under the field it belongs to (or clear it with null). */
function showFieldError(field, message) {
  if (!field) return;
  const id = `${field.id}-live-error`;
  let error = document.getElementById(id);
  field.parentElement.querySelectorAll(".field-error").forEach((old) => {
    if (old !== error) old.remove();
  });
  if (!message) {
    error?.remove();
    field.removeAttribute("aria-invalid");
    return;
  }
  if (!error) {
    error = document.createElement("p");
    error.className = "field-error";
    error.id = id;
    field.after(error);
  }
  error.textContent = message;
  field.setAttribute("aria-invalid", "true");
  const described = new Set((field.getAttribute("aria-describedby") ?? "").split(" "));
  described.add(id);
  field.setAttribute("aria-describedby", [...described].filter(Boolean).join(" "));
}

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
  const olderRemain = () => scroller.querySelector('[data-role="load-older"]') !== null;

  function place(element) {
    // In time order: a slow fetch for an older message must not land below a newer one.
    const order = Number(element.dataset.order);
    const later = [...thread.children].find((other) => Number(other.dataset.order) > order);
    if (later) later.before(element);
    else thread.append(element);
  }

  async function load(id) {
    let response;
    try {
      const url = page.dataset.messageUrl.replace("__ID__", encodeURIComponent(id));
      response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
    } catch {
      return;
    }
    if (!response.ok || response.redirected) return;
    const fresh = elementFrom(await response.text());
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
    moveRecipient(recipient.closest(".deliveries"), recipient, data.status, data.error ?? "");
  }

  function showClosed(data) {
    page.dataset.status = "closed";
    const status = document.getElementById("chat-status");
    status.className = "badge badge-closed";
    status.textContent = "Closed";
    document.getElementById("chat-actions")?.remove();
    composer?.remove();
    const note = document.getElementById("closed-note");
    if (data.close_reason) {
      note.querySelector('[data-role="closed-text"]').textContent =
        `This chat was closed ${CLOSE_REASONS[data.close_reason] ?? `(${data.close_reason})`}`;
    }
    note.hidden = false;
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

  connectLive({
    topic: `chat:${chatId}`,
    since: Number.isInteger(since) ? since : null,
    onEvent(event) {
      if (event.chat_id !== chatId) return; // the navigation's (unrouted SMS): shell.js
      const data = event.data ?? {};
      if (event.name === "message.created") schedule(data.id);
      else if (event.name === "delivery.updated") updateDelivery(data);
      else if (event.name === "chat.closed") showClosed(data);
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
    const fresh = [...older.querySelector('[data-role="bubbles"]').children].filter(
      (element) => !bubble(element.dataset.messageId),
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
  toBottom();

  if (composer) setupComposer(composer, { schedule, toBottom, latestUrl });
  setupClosePanel(document.querySelector("#chat-actions details.popover"));
}

// The close-chat panel: Esc or a click elsewhere closes it, and the keyboard goes back to
// the button that opened it.
function setupClosePanel(panel) {
  if (!panel) return;
  const summary = panel.querySelector("summary");
  panel.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || !panel.open) return;
    event.preventDefault();
    panel.open = false;
    summary.focus();
  });
  document.addEventListener("click", (event) => {
    if (panel.open && !panel.contains(event.target)) panel.open = false;
  });
}

function setupComposer(form, { schedule, toBottom, latestUrl }) {
  const body = form.querySelector("textarea");
  const to = form.querySelector("select");
  const count = document.getElementById("composer-count");
  const button = form.querySelector('button[type="submit"]');
  const max = Number(body.maxLength);
  const defaultHint = count.textContent;

  const updateCount = () => {
    if (!body.value) {
      count.textContent = defaultHint;
      return;
    }
    const over = body.value.length > max * 0.9 ? ` (at most ${max})` : "";
    count.textContent = describeCost(body.value) + over;
  };
  body.addEventListener("input", updateCount);
  body.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (button.disabled) return;
    button.disabled = true;
    showFieldError(body, null);
    showFieldError(to, null);
    try {
      const response = await csrfFetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) {
        const fields = answer.error?.fields ?? {};
        const message = answer.error?.message ?? "The message was not sent. Try again.";
        if (fields.to) showFieldError(to, fields.to);
        else showFieldError(body, fields.body ?? message);
        return;
      }
      if (latestUrl) {
        location.assign(latestUrl); // where the message just sent shows
        return;
      }
      body.value = "";
      // A message to one person is an aside: the next goes to everyone again.
      to.value = "all";
      updateCount();
      toBottom();
      schedule(answer.message_id);
    } catch {
      showFieldError(body, "Could not reach the server: the message was not sent.");
    } finally {
      button.disabled = false;
      body.focus();
    }
  });
}

const page = document.getElementById("chat-page");
if (page) setup(page);
