// The unread count (participants' texts not yet read by the signed-in person, in active
// chats) in the tab title and beside "Chats", live; and, for new texts in chats assigned
// to this person, an optional beep and browser notification. Both preferences belong to
// this browser (localStorage) and are set in the settings dialog (#settings-dialog),
// opened from the sidebar's Settings button or the command palette.
//
// A chat is assigned to me when the chat's live shape says so: `assignee_id` (a staff
// user id, or null) equal to document.body.dataset.staffId. What the page learns of
// assignees comes from live events and from [data-assignee-id] on the page.

import { onLiveEvent } from "./live.js";

const STORE = "smsproxy.prefs";
// Every open page asks for its count after a text: spread over a second or so, so a
// room full of dashboards does not ask all at once.
const COALESCE_MS = 300;
const SPREAD_MS = 1200;
const baseTitle = document.title;
const staffId = document.body.dataset.staffId ?? "";
const assignees = new Map();

export function preferences() {
  try {
    const stored = JSON.parse(localStorage.getItem(STORE) ?? "{}");
    return { sound: stored.sound === true, notifications: stored.notifications === true };
  } catch {
    return { sound: false, notifications: false };
  }
}

function savePreferences(change) {
  const next = { ...preferences(), ...change };
  try {
    localStorage.setItem(STORE, JSON.stringify(next));
  } catch {
    // Private mode without storage: the choice lasts for this page only.
  }
  return next;
}

/** Mask what looks like a phone number: never a full number in a notification. */
export function maskNumbers(text) {
  return String(text ?? "").replace(/\+?\d[\d\s().-]{5,}\d/g, (found) => {
    const digits = found.replace(/\D/g, "");
    return `${found.startsWith("+") ? "+" : ""}${digits.slice(0, 2)}•••••${digits.slice(-2)}`;
  });
}

// --- the count ------------------------------------------------------------------------

function showCount(unread, cap) {
  const label = unread >= cap ? `${cap - 1}+` : String(unread);
  document.title = unread > 0 ? `(${label}) ${baseTitle}` : baseTitle;
  const badge = document.querySelector('[data-nav-count="unread"]');
  if (!badge) return;
  badge.querySelector('[data-role="number"]').textContent = label;
  badge.hidden = unread === 0;
}

let countTimer = null;
function refreshCount() {
  clearTimeout(countTimer);
  countTimer = setTimeout(async () => {
    let answer;
    try {
      const response = await fetch("/chats/unread", {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok || response.redirected) return;
      answer = await response.json();
    } catch {
      return; // offline: the next event brings it
    }
    showCount(Number(answer.unread) || 0, Number(answer.cap) || 100);
  }, COALESCE_MS + Math.random() * SPREAD_MS);
}

// --- sound and notifications ------------------------------------------------------------

let audio = null;
export function beep() {
  const Context = window.AudioContext ?? window.webkitAudioContext;
  if (!Context) return;
  audio ??= new Context();
  audio.resume?.().catch(() => {});
  const oscillator = audio.createOscillator();
  const gain = audio.createGain();
  oscillator.type = "sine";
  oscillator.frequency.value = 880;
  gain.gain.setValueAtTime(0.15, audio.currentTime);
  gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.2);
  oscillator.connect(gain).connect(audio.destination);
  oscillator.start();
  oscillator.stop(audio.currentTime + 0.2);
}

function learnAssignee(event) {
  const data = event.data ?? {};
  const chat = data.chat ?? data;
  if (event.chat_id && Object.hasOwn(chat, "assignee_id")) {
    assignees.set(event.chat_id, chat.assignee_id);
  }
}

function assignedToMe(chatId, data) {
  const assignee = Object.hasOwn(data, "assignee_id") ? data.assignee_id : assignees.get(chatId);
  if (assignee === undefined) {
    const marked = document.querySelector(
      `[data-chat-id="${CSS.escape(chatId)}"][data-assignee-id], [data-item-id="${CSS.escape(chatId)}"][data-assignee-id]`,
    );
    return Boolean(marked && staffId && marked.dataset.assigneeId === staffId);
  }
  return assignee !== null && staffId !== "" && String(assignee) === staffId;
}

function lookingAt(chatId) {
  const page = document.getElementById("chat-page");
  return document.visibilityState === "visible" && page?.dataset.chatId === chatId;
}

function signalNew(event) {
  const data = event.data ?? {};
  if (!assignedToMe(event.chat_id, data) || lookingAt(event.chat_id)) return;
  const prefs = preferences();
  if (prefs.sound) beep();
  if (!prefs.notifications || !("Notification" in window)) return;
  if (Notification.permission !== "granted") return;
  const who = maskNumbers(data.author || "A participant");
  const text = maskNumbers(String(data.body ?? "").slice(0, 120));
  const note = new Notification(`New text from ${who}`, { body: text, tag: event.chat_id });
  note.addEventListener("click", () => {
    window.focus();
    location.assign(`/chats/${encodeURIComponent(event.chat_id)}`);
  });
}

// --- settings --------------------------------------------------------------------------

function permissionText() {
  if (!("Notification" in window)) return "This browser cannot show notifications.";
  if (Notification.permission === "denied") {
    return "This browser blocks notifications from this site: allow them in its site settings.";
  }
  return "";
}

export function openSettings() {
  const dialog = document.getElementById("settings-dialog");
  if (!dialog) return;
  const prefs = preferences();
  for (const box of dialog.querySelectorAll("[data-setting]")) {
    box.checked = prefs[box.dataset.setting];
  }
  dialog.querySelector('[data-role="permission"]').textContent = permissionText();
  dialog.showModal();
  dialog.querySelector("[data-setting]")?.focus();
}

/** Turn browser notifications on or off; asks for permission (a click must lead here). */
export async function setNotifications(on) {
  if (on && "Notification" in window && Notification.permission === "default") {
    await Notification.requestPermission();
  }
  const allowed = "Notification" in window && Notification.permission === "granted";
  return savePreferences({ notifications: on && allowed }).notifications;
}

function setupSettings() {
  const dialog = document.getElementById("settings-dialog");
  if (!dialog) return;
  dialog.addEventListener("change", async (event) => {
    const box = event.target.closest("[data-setting]");
    if (!box) return;
    if (box.dataset.setting === "notifications") {
      box.checked = await setNotifications(box.checked);
      dialog.querySelector('[data-role="permission"]').textContent = permissionText();
    } else {
      savePreferences({ [box.dataset.setting]: box.checked });
      if (box.checked) beep(); // what it will sound like, and a gesture unlocks audio
    }
  });
  document.addEventListener("click", (event) => {
    if (event.target.closest?.('[data-action="settings"]')) openSettings();
  });
}

function start() {
  setupSettings();
  onLiveEvent((event) => {
    learnAssignee(event);
    const data = event.data ?? {};
    if (event.name === "message.created" && event.chat_id) {
      if (data.author_kind !== "participant") return;
      refreshCount();
      signalNew(event);
    } else if (event.name === "chat.read") {
      if (String(data.staff_user_id) === staffId) refreshCount();
    } else if (event.name === "chat.closed" || event.name === "chat.reopened") {
      refreshCount();
    }
  });
  const badge = document.querySelector('[data-nav-count="unread"]');
  if (badge && !badge.hidden) {
    showCount(Number.parseInt(badge.textContent, 10) || 0, Number(badge.dataset.cap) || 100);
  }
}

start();
