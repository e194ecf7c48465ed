// Enhancements for every page: local times, confirmation dialogs, flash dismissal, copy
// buttons, and a fetch helper that carries the CSRF token. Pages work without this script.

import { setupCopyButtons } from "./copy.js";

const MINUTE = 60 * 1000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const shortFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const clockFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" });

/** "3 minutes ago" within a day of now, else the local date and time. */
export function formatTime(date, now = Date.now()) {
  const diff = date.getTime() - now;
  const distance = Math.abs(diff);
  if (distance >= DAY) return shortFormat.format(date);
  if (distance < MINUTE) return relativeFormat.format(0, "second");
  if (distance < HOUR) return relativeFormat.format(Math.round(diff / MINUTE), "minute");
  return relativeFormat.format(Math.round(diff / HOUR), "hour");
}

const FORMATS = {
  absolute: (date) => shortFormat.format(date),
  clock: (date) => clockFormat.format(date), // where a heading already gives the day
};

/** Show one <time datetime="..."> in the browser's time zone, the full time in its title.
 *  data-format="absolute" always shows the date and time, "clock" the time of day. */
export function renderTime(element) {
  const date = new Date(element.getAttribute("datetime"));
  if (Number.isNaN(date.getTime())) return;
  const text = (FORMATS[element.dataset.format] ?? formatTime)(date);
  if (element.textContent !== text) element.textContent = text;
  const title = fullFormat.format(date);
  if (element.title !== title) element.title = title;
}

export function renderTimes(root = document) {
  if (root instanceof Element && root.matches("time[datetime]")) renderTime(root);
  root.querySelectorAll?.("time[datetime]").forEach(renderTime);
}

/** The first element of a server-rendered HTML fragment. */
export function elementFrom(html) {
  const template = document.createElement("template");
  template.innerHTML = html.trim();
  return template.content.firstElementChild;
}

export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

/** fetch() for this site's HTML routes: same-origin cookies plus the CSRF header. */
export function csrfFetch(url, options = {}) {
  const headers = new Headers(options.headers);
  headers.set("X-CSRF-Token", csrfToken());
  if (!headers.has("Accept")) headers.set("Accept", "application/json");
  return fetch(url, { credentials: "same-origin", ...options, headers });
}

/** Ask in a modal dialog; resolves true when the person confirms. */
export function askConfirm(message, confirmLabel = "Confirm") {
  if (typeof HTMLDialogElement !== "function") return Promise.resolve(window.confirm(message));
  const dialog = document.createElement("dialog");
  dialog.className = "confirm-dialog";
  dialog.setAttribute("aria-labelledby", "confirm-dialog-message");
  dialog.innerHTML = `
    <form method="dialog">
      <p id="confirm-dialog-message"></p>
      <div class="form-actions">
        <button type="submit" value="cancel" class="btn">Cancel</button>
        <button type="submit" value="confirm" class="btn btn-danger"></button>
      </div>
    </form>`;
  dialog.querySelector("p").textContent = message;
  dialog.querySelector('button[value="confirm"]').textContent = confirmLabel;
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        resolve(dialog.returnValue === "confirm");
        dialog.remove();
      },
      { once: true },
    );
    dialog.showModal();
    // The safe choice has the focus: Enter alone never confirms.
    dialog.querySelector('button[value="cancel"]').focus();
  });
}

const confirmed = new WeakSet();

// Capture phase on the document, so a page's own submit handler (fetch, live send)
// only ever sees confirmed submissions.
function onSubmit(event) {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  const submitter = event.submitter;
  const message = submitter?.dataset.confirm ?? form.dataset.confirm;
  if (!message) return;
  if (confirmed.has(form)) {
    confirmed.delete(form);
    return;
  }
  event.preventDefault();
  event.stopPropagation();
  const label = submitter?.dataset.confirmLabel ?? form.dataset.confirmLabel ?? "Confirm";
  askConfirm(message, label).then((ok) => {
    if (!ok) return;
    confirmed.add(form);
    if (submitter && submitter.form === form) form.requestSubmit(submitter);
    else form.requestSubmit();
  });
}

function onClick(event) {
  const button = event.target.closest?.(".flash-dismiss");
  if (!button) return;
  const flash = button.closest(".flash");
  const next = flash?.parentElement;
  flash?.remove();
  if (next && next.classList.contains("flashes") && !next.children.length) next.remove();
  document.getElementById("main")?.focus();
}

function start() {
  document.documentElement.classList.replace("no-js", "js");
  renderTimes(document);
  setupCopyButtons(document);
  // Pages and live updates add <time> elements: render them as they arrive.
  new MutationObserver((mutations) => {
    for (const mutation of mutations) {
      for (const node of mutation.addedNodes) {
        if (node instanceof Element) renderTimes(node);
      }
    }
  }).observe(document.body, { childList: true, subtree: true });
  setInterval(() => renderTimes(document), 30 * 1000);
  document.addEventListener("submit", onSubmit, true);
  document.addEventListener("click", onClick);
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start, { once: true });
} else {
  start();
}
