// What every page with the navigation shares, live: the connection (opened here when the
// page's own script did not open one), the counts in the navigation, parts of a page that
// refresh themselves ([data-live-refresh]), and the banner's reload button.
//
//   <section id="numbers-table" data-live-refresh="number.changed chat.created"
//            data-refresh-url="/numbers/table">…</section>
//
// is replaced by the fragment at data-refresh-url after any of those events, unless the
// keyboard is inside it (then once it leaves).

import { elementFrom } from "./app.js";
import { connectLive, liveOpened, onLiveEvent } from "./live.js";

const COALESCE_MS = 300;

function coalesced(work) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(work, COALESCE_MS);
  };
}

// The unrouted SMS waiting for staff: arrivals (message.created without a chat) and
// staff dealing with them (unrouted.updated) change it.
function setupUnroutedCount() {
  const badge = document.querySelector('[data-nav-count="unrouted"]');
  if (!badge) return;
  const refresh = coalesced(async () => {
    let answer;
    try {
      const response = await fetch("/unrouted/count", {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok || response.redirected) return;
      answer = await response.json();
    } catch {
      return; // offline: the next event brings it
    }
    const waiting = Number(answer.waiting) || 0;
    const cap = Number(answer.cap) || Number(badge.dataset.cap);
    badge.querySelector('[data-role="number"]').textContent =
      waiting >= cap ? `${cap - 1}+` : String(waiting);
    badge.hidden = waiting === 0;
  });
  onLiveEvent((event) => {
    const arrived = event.name === "message.created" && !event.chat_id;
    if (arrived || event.name === "unrouted.updated") refresh();
  });
  return refresh;
}

function setupRefreshingParts() {
  for (const part of document.querySelectorAll("[data-live-refresh]")) {
    const names = new Set(part.dataset.liveRefresh.split(/\s+/));
    let current = part;
    let waiting = false;
    const replace = async () => {
      if (current.contains(document.activeElement)) {
        if (!waiting) {
          waiting = true;
          current.addEventListener("focusout", () => {
            waiting = false;
            refresh();
          }, { once: true });
        }
        return;
      }
      let response;
      try {
        response = await fetch(current.dataset.refreshUrl, {
          credentials: "same-origin",
          headers: { Accept: "text/html" },
        });
      } catch {
        return;
      }
      if (!response.ok || response.redirected) return;
      const fresh = elementFrom(await response.text());
      if (!fresh || current.contains(document.activeElement)) return;
      current.replaceWith(fresh);
      current = fresh;
    };
    const refresh = coalesced(replace);
    onLiveEvent((event) => {
      if (names.has(event.name)) refresh();
    });
  }
}

function start() {
  const refreshCount = setupUnroutedCount();
  setupRefreshingParts();
  document.addEventListener("click", (event) => {
    if (event.target.closest?.('[data-action="reload"]')) location.reload();
  });
  if (!liveOpened()) {
    // This page has nothing live of its own: the list topic carries what the navigation
    // counts. Too much missed is no reason to reload a page someone may be typing in.
    const since = Number.parseInt(document.body.dataset.lastEventId ?? "", 10);
    connectLive({
      topic: "chats",
      since: Number.isInteger(since) ? since : null,
      onReset: () => refreshCount?.(),
    });
  }
}

// Module scripts run in document order, and the page's own ran before this one.
start();
