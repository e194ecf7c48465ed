// The sandbox's simulated phones, live: after any event the page re-fetches the phones
// and updates each one's log and chats in place, leaving the forms (and whatever is
// being typed in them) alone. Sending from a phone happens without a page load.

import { csrfFetch } from "./app.js";
import { connectLive } from "./live.js";

const REFRESH_EVENTS = new Set([
  "message.created",
  "delivery.updated",
  "chat.created",
  "chat.closed",
  "number.changed",
  "participant.opted_out",
  "participant.opted_in",
]);
const REFRESH_DELAY_MS = 250;
const NEAR_BOTTOM_PX = 32;

function fragmentFrom(html) {
  const template = document.createElement("template");
  template.innerHTML = html;
  return template.content;
}

function showFieldError(field, message) {
  if (!field) return;
  const box = field.closest(".field") ?? field.parentElement;
  box.querySelectorAll(".field-error").forEach((old) => old.remove());
  if (!message) {
    field.removeAttribute("aria-invalid");
    return;
  }
  const error = document.createElement("p");
  error.className = "field-error";
  error.id = `${field.id}-live-error`;
  error.textContent = message;
  box.append(error);
  field.setAttribute("aria-invalid", "true");
  field.setAttribute("aria-describedby", error.id);
}

function showNote(form, text) {
  let note = form.querySelector('[data-role="note"]');
  if (!note) {
    note = document.createElement("p");
    note.className = "hint form-note";
    note.dataset.role = "note";
    note.setAttribute("role", "status");
    form.append(note);
  }
  note.textContent = text;
}

function scrollLogToEnd(log) {
  log.scrollTop = log.scrollHeight;
}

function updatePhone(current, fresh) {
  const log = current.querySelector('[data-role="log"]');
  const freshLog = fresh.querySelector('[data-role="log"]');
  if (log.innerHTML !== freshLog.innerHTML) {
    const follow = log.scrollHeight - log.scrollTop - log.clientHeight <= NEAR_BOTTOM_PX;
    log.innerHTML = freshLog.innerHTML;
    log.dataset.count = freshLog.dataset.count;
    if (follow) scrollLogToEnd(log);
  }
  const routes = current.querySelector('[data-role="routes"]');
  const freshRoutes = fresh.querySelector('[data-role="routes"]');
  if (routes.innerHTML !== freshRoutes.innerHTML) routes.innerHTML = freshRoutes.innerHTML;
  updateOptions(
    current.querySelector('[data-role="proxy"]'),
    fresh.querySelector('[data-role="proxy"]'),
  );
}

function updateOptions(select, fresh) {
  // Never while someone is choosing; keep their choice when it still exists.
  if (!select || !fresh || document.activeElement === select) return;
  if (select.innerHTML === fresh.innerHTML) return;
  const chosen = select.value;
  select.innerHTML = fresh.innerHTML;
  if (chosen && [...select.options].some((option) => option.value === chosen)) {
    select.value = chosen;
  }
}

function setup(phones) {
  const since = Number.parseInt(phones.dataset.lastEventId ?? "", 10);
  const empty = document.querySelector('[data-role="empty"]');
  let timer = null;
  let running = null;

  async function refresh() {
    let response;
    try {
      response = await fetch(phones.dataset.phonesUrl, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
      });
    } catch {
      return;
    }
    if (!response.ok || response.redirected) return;
    const fresh = fragmentFrom(await response.text());
    for (const phone of fresh.querySelectorAll("[data-phone]")) {
      const current = phones.querySelector(`[data-phone="${CSS.escape(phone.dataset.phone)}"]`);
      if (current) {
        updatePhone(current, phone);
      } else {
        // The first page lists the most recently active: a new phone leads it.
        if (phones.dataset.firstPage === "yes") phones.prepend(phone);
        else phones.append(phone);
        setupForm(phone.querySelector("[data-sandbox-form]"));
        scrollLogToEnd(phone.querySelector('[data-role="log"]'));
      }
    }
    const newProxy = document.querySelector('#new-proxy[data-role="proxy"]');
    const anyPhone = fresh.querySelector('[data-role="proxy"]');
    if (newProxy && anyPhone) {
      const options = anyPhone.cloneNode(true);
      for (const option of options.options) option.selected = false;
      updateOptions(newProxy, options);
    }
    if (empty && phones.children.length) empty.hidden = true;
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      // One refresh at a time; an event during one asks for another after it.
      await running;
      running = refresh();
    }, REFRESH_DELAY_MS);
  }

  function setupForm(form) {
    if (!form) return;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector('button[type="submit"]');
      if (button.disabled) return;
      button.disabled = true;
      for (const field of form.querySelectorAll("input, select, textarea")) {
        showFieldError(field, null);
      }
      try {
        const response = await csrfFetch(form.action, {
          method: "POST",
          body: new URLSearchParams(new FormData(form)),
        });
        const answer = await response.json().catch(() => ({}));
        if (!response.ok) {
          const fields = answer.error?.fields ?? {};
          const message = answer.error?.message ?? "That did not work. Try again.";
          const names = Object.keys(fields);
          if (!names.length) showNote(form, message);
          for (const name of names) {
            showFieldError(form.querySelector(`[name="${CSS.escape(name)}"]`), fields[name]);
          }
          return;
        }
        form.querySelector("textarea").value = "";
        if (form.querySelector('input[name="number"]')) form.reset();
        showNote(form, answer.note ?? "Sent.");
        schedule();
      } catch {
        showNote(form, "Could not reach the server: nothing was sent.");
      } finally {
        button.disabled = false;
      }
    });
  }

  for (const form of document.querySelectorAll("[data-sandbox-form]")) setupForm(form);
  for (const log of phones.querySelectorAll('[data-role="log"]')) scrollLogToEnd(log);

  connectLive({
    topic: "all",
    since: Number.isInteger(since) ? since : null,
    onEvent(event) {
      if (REFRESH_EVENTS.has(event.name)) schedule();
    },
  });
}

const phones = document.getElementById("phones");
if (phones) setup(phones);
