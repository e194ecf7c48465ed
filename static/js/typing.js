// "Someone is writing" on the chat page (protocol: smsproxy/web/live/__init__.py).
//
// announceTyping: while the composer is typed in, tell colleagues on this chat (one
// "start" every 2 s at most), and "stop" once it is sent or cleared, or 5 s after the
// last keystroke. showTyping: who else is writing, under the thread, until they stop
// (or, should their "stop" be lost with their page, 8 s after their last "start").

const SEND_EVERY_MS = 2_000;
const IDLE_MS = 5_000;
const FORGET_MS = 8_000;

export function announceTyping(field, live) {
  let sentAt = 0;
  let idleTimer = null;
  let started = false;

  function stop() {
    clearTimeout(idleTimer);
    idleTimer = null;
    if (!started) return;
    started = false;
    sentAt = 0;
    live.send({ type: "typing", state: "stop" });
  }

  field.addEventListener("input", () => {
    if (!field.value.trim()) {
      stop();
      return;
    }
    clearTimeout(idleTimer);
    idleTimer = setTimeout(stop, IDLE_MS);
    const now = Date.now();
    if (now - sentAt < SEND_EVERY_MS) return;
    if (live.send({ type: "typing", state: "start" })) {
      sentAt = now;
      started = true;
    }
  });
  return { stop };
}

export function showTyping(note) {
  const writing = new Map(); // user id -> {user, timer}

  function render() {
    const names = [...writing.values()].map((entry) => entry.user);
    note.hidden = names.length === 0;
    if (names.length === 0) {
      note.textContent = "";
    } else if (names.length === 1) {
      note.textContent = `${names[0]} is writing…`;
    } else {
      const last = names.pop();
      note.textContent = `${names.join(", ")} and ${last} are writing…`;
    }
  }

  function forget(userId) {
    clearTimeout(writing.get(userId)?.timer);
    writing.delete(userId);
    render();
  }

  return function onTyping(frame) {
    if (frame.state === "start") {
      clearTimeout(writing.get(frame.user_id)?.timer);
      const timer = setTimeout(() => forget(frame.user_id), FORGET_MS);
      writing.set(frame.user_id, { user: frame.user, timer });
      render();
    } else {
      forget(frame.user_id);
    }
  };
}
