// The chat list and the unrouted inbox, live; and the new-chat form's rows.
//
// Live lists ([data-live-list]) re-fetch the server-rendered row of whatever an event
// names, so a row looks the same however it arrived, and the server decides whether it
// still matches the page's filter (204: it does not). Rows that change above what the
// reader is looking at never move what they are looking at.

import { elementFrom } from "./app.js";
import { connectLive } from "./live.js";

const COALESCE_MS = 120;

// The row under the mouse pointer, if any: a row arriving never moves it, at the top of
// the page too (someone about to click must not hit the row that slid in).
let pointed = null;
document.addEventListener("pointerover", (event) => {
  pointed = event.target.closest?.("[data-item-id]") ?? null;
});
document.addEventListener("pointerleave", () => {
  pointed = null;
});

/** Run `change`, then scroll so the row under the pointer (or the first row in view,
 *  once the page is scrolled) stays where it was on screen. */
function keepInView(list, change) {
  const held = pointed && list.contains(pointed) ? pointed : null;
  const anchor = held ?? [...list.children].find((row) => row.getBoundingClientRect().bottom > 0);
  const before = anchor?.getBoundingClientRect().top;
  change();
  if (!(held || window.scrollY > 0) || !anchor || before === undefined) return;
  const hold = () => {
    if (!anchor.isConnected) return;
    const shift = anchor.getBoundingClientRect().top - before;
    if (shift) window.scrollBy(0, shift);
  };
  hold();
  // Once more after the page's mutation observers have dressed the new row (local
  // times, copy buttons), which may change its height: still before anything is painted.
  queueMicrotask(hold);
}

function setupLiveList(root) {
  const kind = root.dataset.liveList;
  const list = root.querySelector('[data-role="items"]');
  const empty = root.querySelector('[data-role="empty"]');
  const announcer = root.querySelector('[data-role="announcer"]');
  const mayInsert = root.dataset.insert === "yes";
  const since = Number.parseInt(root.dataset.lastEventId ?? "", 10);
  const staffId = document.body.dataset.staffId;
  const pending = new Map();
  let timer = null;

  const rowUrl = (id) => root.dataset.rowUrl.replace("__ID__", encodeURIComponent(id));
  const find = (id) => list.querySelector(`[data-item-id="${CSS.escape(id)}"]`);

  function updateEmpty() {
    const hasRows = list.children.length > 0;
    list.hidden = !hasRows;
    if (empty) empty.hidden = hasRows;
  }

  function announce(text) {
    if (!announcer || !text) return;
    announcer.textContent = "";
    // A fresh text node each time, so the same words are announced again.
    requestAnimationFrame(() => {
      announcer.textContent = text;
    });
  }

  async function refresh(id, { bump, message }) {
    const existing = find(id);
    if (!existing && !mayInsert) return;
    let response;
    try {
      response = await fetch(rowUrl(id), {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
      });
    } catch {
      return; // offline: the next event or a reload brings the row
    }
    if (response.redirected) return; // logged out: the next navigation shows the login
    if (response.status === 204 || response.status === 404) {
      if (existing) keepInView(list, () => existing.remove());
      updateEmpty();
      return;
    }
    if (!response.ok) return;
    const row = elementFrom(await response.text());
    if (!row) return;
    keepInView(list, () => {
      const current = find(id);
      // A row ticked for a bulk action stays ticked when it is refreshed.
      if (current?.querySelector('input[name="chat"]')?.checked) {
        const box = row.querySelector('input[name="chat"]');
        if (box) box.checked = true;
      }
      if (bump && mayInsert) {
        current?.remove();
        list.prepend(row);
      } else if (current) {
        current.replaceWith(row);
      } else if (mayInsert) {
        list.prepend(row);
      }
    });
    if (bump) {
      row.classList.add("is-fresh");
      setTimeout(() => row.classList.remove("is-fresh"), 2000);
    }
    updateEmpty();
    announce(message);
  }

  function schedule(id, options) {
    const previous = pending.get(id);
    pending.set(id, {
      bump: Boolean(options.bump || previous?.bump),
      message: options.message ?? previous?.message,
    });
    timer ??= setTimeout(flush, COALESCE_MS);
  }

  async function flush() {
    timer = null;
    const batch = [...pending];
    pending.clear();
    for (const [id, options] of batch) await refresh(id, options);
  }

  function onChatsEvent(event) {
    if (!event.chat_id) return;
    const data = event.data ?? {};
    if (event.name === "chat.created") {
      schedule(event.chat_id, { bump: true, message: "A new chat started" });
    } else if (event.name === "message.created") {
      const who = data.author_kind === "participant" && data.author ? data.author : null;
      schedule(event.chat_id, { bump: true, message: who ? `New message from ${who}` : null });
    } else if (event.name === "chat.closed" || event.name === "chat.reopened") {
      schedule(event.chat_id, { bump: false });
    } else if (event.name === "chat.assigned") {
      // The server says whether the row belongs here now ("Mine", "Unassigned").
      const who = data.assignee ? `assigned to ${data.assignee}` : "unassigned";
      schedule(event.chat_id, { bump: false, message: `A chat was ${who}` });
    } else if (event.name === "chat.labelled") {
      schedule(event.chat_id, { bump: false });
    } else if (event.name === "chat.read" && String(data.staff_user_id) === staffId) {
      // Read in another tab of this person's: the badge goes here too.
      if (find(event.chat_id)) schedule(event.chat_id, { bump: false });
    }
  }

  function onUnroutedEvent(event) {
    const data = event.data ?? {};
    if (event.chat_id) return;
    if (event.name === "message.created" && data.author_kind === "unrouted") {
      schedule(data.id, { bump: true, message: "A new unrouted SMS arrived" });
    } else if (event.name === "unrouted.updated") {
      // The server says whether it still belongs to this view (204: it leaves).
      if (find(data.id) || mayInsert) schedule(data.id, { bump: false });
    }
  }

  connectLive({
    topic: "chats",
    since: Number.isInteger(since) ? since : null,
    onEvent: kind === "unrouted" ? onUnroutedEvent : onChatsEvent,
  });
}

// New chat: participant rows added and removed in place (the buttons also work as plain
// submits without this script), and the browser's time zone sent beside the expiry.

const ROW_NAME = /participants-\d+-/g;

function renumber(form) {
  const rows = [...form.querySelectorAll('[data-role="row"]')];
  const box = form.querySelector('[data-role="participants"]');
  const min = Number(box.dataset.min);
  const max = Number(box.dataset.max);
  rows.forEach((row, index) => {
    for (const element of row.querySelectorAll("[id], [for], [name], [aria-describedby]")) {
      for (const attribute of ["id", "for", "name", "aria-describedby"]) {
        const value = element.getAttribute(attribute);
        if (value) element.setAttribute(attribute, value.replace(ROW_NAME, `participants-${index}-`));
      }
    }
    row.querySelector(".row-number").textContent = String(index + 1);
    const label = row.querySelector('label[for$="-number"]');
    if (label) label.textContent = `Participant ${index + 1} phone number`;
    const remove = row.querySelector(".row-remove");
    remove.value = `remove-${index}`;
    remove.querySelector(".visually-hidden").textContent = ` participant ${index + 1}`;
    remove.disabled = rows.length <= min;
    const number = row.querySelector('input[type="tel"]');
    if (number) number.required = index < min;
  });
  form.querySelector('[data-role="row-count"]').value = String(rows.length);
  form.querySelector('[data-role="add-row"]').disabled = rows.length >= max;
}

function addRow(form) {
  const rows = [...form.querySelectorAll('[data-role="row"]')];
  const model = rows.find((row) => row.querySelector('input[type="tel"]'));
  if (!model) return;
  const row = model.cloneNode(true);
  for (const input of row.querySelectorAll("input")) {
    input.value = "";
    input.removeAttribute("aria-invalid");
  }
  for (const error of row.querySelectorAll(".field-error")) error.remove();
  for (const element of row.querySelectorAll("[aria-describedby]")) {
    // The errors were the copied row's; hints shared by every row stay.
    const kept = element
      .getAttribute("aria-describedby")
      .split(" ")
      .filter((id) => id && !id.endsWith("-error"));
    if (kept.length) element.setAttribute("aria-describedby", kept.join(" "));
    else element.removeAttribute("aria-describedby");
  }
  rows.at(-1).after(row);
  renumber(form);
  row.querySelector('input[type="tel"]').focus();
}

function removeRow(form, button) {
  const row = button.closest('[data-role="row"]');
  const next = row.nextElementSibling ?? row.previousElementSibling;
  row.remove();
  renumber(form);
  (next?.querySelector("input:not([type=hidden])") ?? form.querySelector("input[type=tel]"))?.focus();
}

function offsetLabel(minutes) {
  const sign = minutes <= 0 ? "+" : "−";
  const total = Math.abs(minutes);
  const hours = String(Math.floor(total / 60)).padStart(2, "0");
  return `UTC${sign}${hours}:${String(total % 60).padStart(2, "0")}`;
}

function setupNewChat(form) {
  const expiry = form.querySelector("#expires_at");
  const offset = form.querySelector('[data-role="tz-offset"]');
  const hint = form.querySelector('[data-role="tz-hint"]');
  const updateOffset = () => {
    // The offset at the chosen moment, which differs from today's across a DST change.
    const chosen = expiry.value ? new Date(expiry.value) : new Date();
    const minutes = Number.isNaN(chosen.getTime())
      ? new Date().getTimezoneOffset()
      : chosen.getTimezoneOffset();
    offset.value = String(minutes);
    hint.textContent = `In your local time (${offsetLabel(minutes)}).`;
  };
  updateOffset();
  expiry.addEventListener("input", updateOffset);

  form.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button || button.type !== "submit") return;
    if (button.dataset.role === "add-row") {
      event.preventDefault();
      addRow(form);
    } else if (button.classList.contains("row-remove")) {
      event.preventDefault();
      removeRow(form, button);
    }
  });
  form.addEventListener("submit", updateOffset);
}

// Bulk actions: "Select all shown" ticks every row's box (without scripts the server
// reads it as "every chat the page showed"); unticking a row unticks it again.
function setupBulk(form) {
  const all = form.querySelector('[data-role="select-all"]');
  const count = form.querySelector('[data-role="selected-count"]');
  const boxes = () => [...document.querySelectorAll('input[name="chat"][form="bulk"]')];
  const update = () => {
    const ticked = boxes().filter((box) => box.checked).length;
    count.textContent = ticked ? `${ticked} selected` : "";
    all.checked = ticked > 0 && ticked === boxes().length;
    all.indeterminate = ticked > 0 && !all.checked;
  };
  all.addEventListener("change", () => {
    for (const box of boxes()) box.checked = all.checked;
    update();
  });
  document.addEventListener("change", (event) => {
    if (event.target.matches?.('input[name="chat"][form="bulk"]')) update();
  });
}

for (const root of document.querySelectorAll("[data-live-list]")) setupLiveList(root);
for (const form of document.querySelectorAll("form#bulk")) setupBulk(form);
for (const form of document.querySelectorAll("[data-new-chat]")) setupNewChat(form);
