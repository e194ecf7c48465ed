// Keyboard first: single-key shortcuts, the shortcut overlay (?) and the command palette
// (Ctrl+K / Cmd+K), on every dashboard page. COMMANDS is the one table both list: a
// command has a label, the keys that run it (if any), where it applies, and what it does.
// Shortcuts never fire while someone types in a field, or with Ctrl, Alt or Cmd held
// (the palette's Ctrl+K / Cmd+K aside).

import { openSettings, preferences, setNotifications } from "./notify.js";
import { createPalette } from "./palette.js";

const SEQUENCE_MS = 1200;

const chatPage = () => document.getElementById("chat-page");
const listRows = () => [...document.querySelectorAll('[data-live-list="chats"] .inbox-row')];
const go = (path) => () => location.assign(path);
const click = (selector) => () => document.querySelector(selector)?.click();

function openClose() {
  const details = document.querySelector("#chat-actions details.popover");
  if (!details) return;
  details.open = true;
  details.querySelector("input:not([type=hidden]), button")?.focus();
}

function openExtend() {
  const summary = document.querySelector('[data-shortcut="extend"]');
  if (!summary) return;
  summary.parentElement.open = true;
  summary.parentElement.querySelector("button, input:not([type=hidden]), select")?.focus();
}

function focusComposer() {
  document.getElementById("composer-body")?.focus();
}

function focusSearch() {
  const search = document.getElementById("chat-search");
  if (search) search.focus();
  else location.assign("/chats#chat-search");
}

async function toggleNotifications() {
  const on = await setNotifications(!preferences().notifications);
  say(on ? "Browser notifications on." : "Browser notifications off.");
}

// --- moving through the chat list (j, k, o, Enter) -------------------------------------

let current = -1;

function move(step) {
  const rows = listRows();
  if (!rows.length) return;
  const at = rows.findIndex((row) => row.classList.contains("is-key-focus"));
  current = Math.min(rows.length - 1, Math.max(0, (at < 0 ? (step > 0 ? -1 : rows.length) : at) + step));
  rows.forEach((row) => row.classList.remove("is-key-focus"));
  const row = rows[current];
  row.classList.add("is-key-focus");
  // The link itself takes the focus: screen readers follow, and Enter opens it.
  row.querySelector(".inbox-link")?.focus({ preventScroll: true });
  row.scrollIntoView({ block: "nearest" });
}

function openFocused() {
  const row = listRows().find((item) => item.classList.contains("is-key-focus"));
  row?.querySelector(".inbox-link")?.click();
}

// --- the table ---------------------------------------------------------------------------

const on = (selector) => () => Boolean(document.querySelector(selector));
const hasRows = () => listRows().length > 0;
const hasChosenRow = () => listRows().some((row) => row.classList.contains("is-key-focus"));

export const COMMANDS = [
  { id: "next", keys: ["j"], label: "Next chat in the list", when: hasRows, run: () => move(1) },
  { id: "previous", keys: ["k"], label: "Previous chat in the list", when: hasRows, run: () => move(-1) },
  { id: "open", keys: ["o", "Enter"], label: "Open the chosen chat", when: hasChosenRow, run: openFocused },
  { id: "reply", keys: ["r"], label: "Write a reply", when: on("#composer-body"), run: focusComposer },
  { id: "close", keys: ["c"], label: "Close this chat…", when: on("#chat-actions details.popover"), run: openClose },
  { id: "assign", keys: ["a"], label: "Take or assign this chat", when: on('[data-shortcut="assign"]'), run: click('[data-shortcut="assign"]') },
  { id: "reopen", keys: [], label: "Reopen this chat", when: on('#reopen-actions:not([hidden]) [data-shortcut="reopen"]'), run: click('[data-shortcut="reopen"]') },
  { id: "extend", keys: [], label: "Extend this chat…", when: on('[data-shortcut="extend"]'), run: openExtend },
  { id: "search", keys: ["/"], label: "Search chats", run: focusSearch },
  { id: "go-chats", keys: ["g c"], label: "Go to Chats", run: go("/chats") },
  { id: "go-unrouted", keys: ["g u"], label: "Go to Unrouted", run: go("/unrouted") },
  { id: "go-numbers", keys: ["g n"], label: "Go to Numbers", run: go("/numbers") },
  { id: "new-chat", keys: [], label: "New chat", run: go("/chats/new") },
  { id: "go-opt-outs", keys: [], label: "Go to Opt-outs", run: go("/opt-outs") },
  { id: "notifications", keys: [], label: "Turn browser notifications on or off", run: toggleNotifications },
  { id: "settings", keys: [], label: "Settings: sound and notifications", run: () => openSettings() },
  { id: "help", keys: ["?"], label: "Show keyboard shortcuts", run: () => showHelp() },
  { id: "palette", keys: ["Ctrl+K", "⌘K"], label: "Command palette", run: () => openPalette() },
];

const applies = (command) => !command.when || command.when();

// --- key handling ------------------------------------------------------------------------

function typing(target) {
  return Boolean(
    target?.closest?.('input, textarea, select, [contenteditable=""], [contenteditable="true"]'),
  );
}

let pending = "";
let pendingTimer = null;

function onKeyDown(event) {
  if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "k") {
    event.preventDefault();
    openPalette();
    return;
  }
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  if (typing(event.target) || document.querySelector("dialog[open]")) return;
  // Enter on a link or button already does what it says: only j/k's row needs help.
  if (event.key === "Enter" && event.target.closest?.("a, button, summary")) {
    if (!event.target.closest(".inbox-row.is-key-focus")) return;
  }
  const key = pending ? `${pending} ${event.key}` : event.key;
  clearTimeout(pendingTimer);
  pending = "";
  if (key === "g") {
    pending = "g";
    pendingTimer = setTimeout(() => (pending = ""), SEQUENCE_MS);
    event.preventDefault();
    return;
  }
  const command = COMMANDS.find((item) => item.keys.includes(key) && applies(item));
  if (!command) return;
  event.preventDefault();
  command.run();
}

// --- announcing --------------------------------------------------------------------------

let announcer = null;
function say(text) {
  if (!announcer) {
    announcer = document.createElement("p");
    announcer.className = "visually-hidden";
    announcer.setAttribute("role", "status");
    document.body.append(announcer);
  }
  announcer.textContent = "";
  requestAnimationFrame(() => (announcer.textContent = text));
}

// --- the shortcut overlay (?) --------------------------------------------------------------

function keyLabel(keys) {
  return keys
    .map((combo) => combo.split(" ").map((part) => `<kbd>${part}</kbd>`).join(" then "))
    .join(" or ");
}

let help = null;
function showHelp() {
  if (!help) {
    help = document.createElement("dialog");
    help.className = "app-dialog shortcuts-dialog";
    help.setAttribute("aria-labelledby", "shortcuts-title");
    help.innerHTML = `
      <form method="dialog">
        <h2 id="shortcuts-title">Keyboard shortcuts</h2>
        <table class="shortcut-table">
          <thead><tr><th scope="col">Does</th><th scope="col">Keys</th></tr></thead>
          <tbody></tbody>
        </table>
        <p class="hint">Not while typing in a field. Every command, with or without keys, is in the palette.</p>
        <div class="form-actions"><button type="submit" class="btn">Close</button></div>
      </form>`;
    const body = help.querySelector("tbody");
    for (const command of COMMANDS.filter((item) => item.keys.length)) {
      const row = document.createElement("tr");
      const label = document.createElement("th");
      label.scope = "row";
      label.textContent = command.label;
      const keys = document.createElement("td");
      keys.innerHTML = keyLabel(command.keys);
      row.append(label, keys);
      body.append(row);
    }
    document.body.append(help);
    trapFocus(help);
  }
  help.showModal();
  help.querySelector("button").focus();
}

// A modal <dialog> already makes the page behind it inert; Tab still reaches the
// browser's own controls after the last field, so it wraps inside instead.
function trapFocus(dialog) {
  dialog.addEventListener("keydown", (event) => {
    if (event.key !== "Tab") return;
    const focusable = [...dialog.querySelectorAll("a[href], button, input, select, textarea, [tabindex]")]
      .filter((element) => !element.disabled && element.tabIndex >= 0 && element.getClientRects().length);
    if (!focusable.length) return;
    const first = focusable[0];
    const last = focusable.at(-1);
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  });
}

// --- the command palette (Ctrl+K) ----------------------------------------------------------

let palette = null;
function openPalette() {
  if (document.querySelector("dialog[open]:not(.palette)")) return;
  palette ??= createPalette({
    // Everything the table lists, bar the palette itself and Enter's "open the row".
    commands: () => COMMANDS.filter((item) => !["palette", "open"].includes(item.id) && applies(item)),
    keyLabel: (keys) => keys.filter((k) => k !== "Enter").join(" / "),
    trapFocus,
  });
  palette.open();
}

document.addEventListener("keydown", onKeyDown);
