// Live updates over the /live WebSocket (protocol: smsproxy/web/live/__init__.py).
//
//   import { connectLive } from "/static/js/live.js";
//   const live = connectLive({
//     topic: "chat:ch_123",            // "chats", "chat:<id>" or "all"
//     since: 42,                       // last event id the page was rendered with, or null
//     onEvent: (event) => { ... },     // {id, name, chat_id, data}, once each, in order
//     onReset: () => location.reload() // too much was missed: the default reloads
//   });
//   live.close();
//
// Reconnects by itself (0.5 s doubling to 10 s, with jitter) and asks for everything after
// the last event it handled, so a dropped connection loses nothing. Drives #live-status.

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;
// The server pings every 20 s; silence well past that means a dead (half-open) socket.
const SILENCE_MS = 45_000;
// Failed attempts in a row before the indicator says "Offline" instead of "Reconnecting…".
const OFFLINE_AFTER = 4;

const STATES = {
  live: "Live",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

function showState(state) {
  const indicator = document.getElementById("live-status");
  if (!indicator) return;
  indicator.dataset.state = state;
  indicator.textContent = STATES[state];
}

function liveUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/live`;
}

export function connectLive({ topic, since = null, onEvent, onReset } = {}) {
  let lastId = Number.isInteger(since) ? since : null;
  let socket = null;
  let helloAt = 0;
  let retryTimer = null;
  let silenceTimer = null;
  let failures = 0;
  let delay = FIRST_DELAY_MS;
  let closed = false;

  const reset = onReset ?? (() => location.reload());

  function handle(event) {
    if (lastId !== null && event.id <= lastId) return;
    lastId = event.id;
    try {
      onEvent?.(event);
    } catch (error) {
      console.error("live event handler failed", error);
    }
  }

  function onFrame(current, frame) {
    switch (frame.type) {
      case "hello":
        // A page with no position starts where the server stands now, and resumes from
        // there should this connection drop before any event arrives.
        if (lastId === null) lastId = frame.last_id;
        current.send(JSON.stringify({ type: "subscribe", topic, since: lastId }));
        helloAt = Date.now();
        showState("live");
        break;
      case "event":
        handle(frame.event);
        break;
      case "reset":
        if (Number.isInteger(frame.last_id)) lastId = frame.last_id;
        reset();
        break;
      case "error":
        console.warn("live:", frame.message);
        break;
      default:
        break;
    }
  }

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = null;
    if (closed || socket) return;
    const current = new WebSocket(liveUrl());
    socket = current;
    helloAt = 0;
    const watchSilence = () => {
      clearTimeout(silenceTimer);
      silenceTimer = setTimeout(() => drop(current), SILENCE_MS);
    };
    current.addEventListener("open", watchSilence);
    current.addEventListener("message", (message) => {
      watchSilence();
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      onFrame(current, frame);
    });
    current.addEventListener("close", () => drop(current));
  }

  // Called once per socket, for a close event or a silent socket (whose close event can
  // take minutes to come).
  function drop(current) {
    if (socket !== current) return;
    socket = null;
    clearTimeout(silenceTimer);
    current.close();
    if (closed) return;
    // A connection that lasted starts the backoff over; one refused or closed at once
    // (server down, logged out) keeps backing off.
    if (helloAt && Date.now() - helloAt > 5_000) {
      failures = 0;
      delay = FIRST_DELAY_MS;
    }
    failures += 1;
    showState(!navigator.onLine || failures >= OFFLINE_AFTER ? "offline" : "reconnecting");
    scheduleRetry();
  }

  function scheduleRetry() {
    if (closed || retryTimer !== null) return;
    // Jitter spreads out the pages of a whole office reconnecting after a server restart.
    const wait = delay / 2 + Math.random() * (delay / 2);
    delay = Math.min(delay * 2, MAX_DELAY_MS);
    retryTimer = setTimeout(connect, wait);
  }

  function onOnline() {
    if (socket) return;
    delay = FIRST_DELAY_MS;
    connect();
  }

  function onOffline() {
    showState("offline");
  }

  window.addEventListener("online", onOnline);
  window.addEventListener("offline", onOffline);
  showState("reconnecting");
  connect();

  return {
    get lastId() {
      return lastId;
    },
    close() {
      closed = true;
      clearTimeout(retryTimer);
      clearTimeout(silenceTimer);
      window.removeEventListener("online", onOnline);
      window.removeEventListener("offline", onOffline);
      const current = socket;
      socket = null;
      current?.close(1000);
      showState("offline");
    },
  };
}
