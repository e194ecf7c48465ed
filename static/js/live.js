// Live updates over the /live WebSocket (protocol: smsproxy/web/live/__init__.py).
//
//   import { connectLive } from "/static/js/live.js";
//   const live = connectLive({
//     topic: "chat:ch_123",            // "chats", "chat:<id>" or "all"
//     since: 42,                       // last event id the page was rendered with, or null
//     onEvent: (event) => { ... },     // {id, name, chat_id, data}, once each, in order
//     onReset: () => location.reload() // too much was missed: the default reloads
//     onTyping: (frame) => { ... },    // a colleague on this chat is writing (or stopped)
//   });
//   live.send({ type: "typing", state: "start" });  // false when not connected
//   live.close();
//
// Reconnects by itself (0.5 s doubling to 10 s, with jitter) and asks for everything after
// the last event it handled, so a dropped connection loses nothing. Drives the page's live
// indicator (#live-status) and, while the page is not live, its banner (#live-banner).
//
// One connection per page: the page script opens it with its own topic, and shell.js
// opens one for pages that have none. Whatever else on the page follows events (the
// navigation's counts) listens with onLiveEvent(fn) and hears every event it brings.

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;
// The server pings every 20 s; silence well past that means a dead (half-open) socket.
const SILENCE_MS = 45_000;
// Failed attempts in a row before the indicator says "Offline" instead of "Reconnecting…".
const OFFLINE_AFTER = 4;

// A reconnect that succeeds within this long (a server restart, a flaky network) shows
// only in the indicator; past it, the banner says the page is not live.
const BANNER_AFTER_MS = 2_500;

const STATES = {
  live: "Live",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};
const BANNER_TEXTS = {
  reconnecting:
    "Not live: reconnecting to the server. What happens meanwhile appears here once the connection is back.",
  offline:
    "Not live: this page cannot reach the server, so what it shows may be out of date. It catches up once the connection is back.",
};

const listeners = new Set();
let connections = 0;
let bannerTimer = null;

/** Hear every event the page's live connection brings, whatever its topic. */
export function onLiveEvent(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Whether a script of this page has opened a live connection. */
export function liveOpened() {
  return connections > 0;
}

function showBanner(state) {
  const banner = document.getElementById("live-banner");
  if (!banner) return;
  clearTimeout(bannerTimer);
  bannerTimer = null;
  if (state === "live") {
    banner.hidden = true;
    return;
  }
  const show = () => {
    banner.querySelector('[data-role="text"]').textContent = BANNER_TEXTS[state];
    banner.dataset.state = state;
    banner.hidden = false;
  };
  if (state === "offline" || !banner.hidden) show();
  else bannerTimer = setTimeout(show, BANNER_AFTER_MS);
}

function showState(state) {
  const indicator = document.getElementById("live-status");
  if (indicator) {
    indicator.dataset.state = state;
    indicator.textContent = STATES[state];
  }
  showBanner(state);
}

function liveUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/live`;
}

export function connectLive({ topic, since = null, onEvent, onReset, onTyping } = {}) {
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
    for (const handler of [onEvent, ...listeners]) {
      try {
        handler?.(event);
      } catch (error) {
        console.error("live event handler failed", error);
      }
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
      case "typing":
        onTyping?.(frame);
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
    if (socket) {
      // The network came back before this socket noticed it was gone.
      if (helloAt) showState("live");
      return;
    }
    delay = FIRST_DELAY_MS;
    connect();
  }

  function onOffline() {
    showState("offline");
  }

  window.addEventListener("online", onOnline);
  window.addEventListener("offline", onOffline);
  connections += 1;
  showState("reconnecting");
  connect();

  return {
    get lastId() {
      return lastId;
    },
    /** Send a frame now if the page is live (subscribed); returns whether it was sent. */
    send(frame) {
      if (!socket || !helloAt || socket.readyState !== WebSocket.OPEN) return false;
      socket.send(JSON.stringify(frame));
      return true;
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
