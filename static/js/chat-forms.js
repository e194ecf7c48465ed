// The chat page's forms: the composer (sent without a page load, with what the text
// costs in SMS, with canned replies and "someone is writing"), the private note form
// and the close-chat panel.

import { csrfFetch } from "./app.js";
import { setupCannedReplies } from "./canned.js";
import { describeCost } from "./sms.js";
import { announceTyping } from "./typing.js";

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

// The close-chat panel: Esc or a click elsewhere closes it, and the keyboard goes back to
// the button that opened it.
export function setupClosePanel(panel) {
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

const PLACEHOLDERS = {
  message: "Write to the participants as staff… (/ for canned replies)",
  note: "A private note: only staff see it, it is never sent…",
};

export function setupComposer(form, { schedule, loadNote, toBottom, latestUrl, live }) {
  const body = form.querySelector("textarea");
  const limits = { message: Number(body.maxLength), note: Number(form.dataset.noteMax) };
  const mode = () => form.querySelector('input[name="mode"]:checked')?.value ?? "message";
  const showMode = () => {
    body.placeholder = PLACEHOLDERS[mode()];
    body.maxLength = limits[mode()];
  };
  form.querySelectorAll('input[name="mode"]').forEach((radio) => {
    radio.addEventListener("change", () => {
      showMode();
      body.focus();
    });
  });
  showMode();
  // "/" lists the canned replies; colleagues see that someone is writing.
  setupCannedReplies(body, body.dataset.cannedUrl);
  const typing = announceTyping(body, live);
  const to = form.querySelector("select");
  const count = document.getElementById("composer-count");
  const button = form.querySelector('button[type="submit"]');
  const defaultHint = count.textContent;

  const updateCount = () => {
    if (!body.value) {
      count.textContent = defaultHint;
      return;
    }
    const max = limits.message;
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
    typing.stop();
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
        const what = mode() === "note" ? "The note was not kept" : "The message was not sent";
        const message = answer.error?.message ?? `${what}. Try again.`;
        if (fields.to) showFieldError(to, fields.to);
        else showFieldError(body, fields.body ?? message);
        return;
      }
      if (latestUrl) {
        location.assign(latestUrl); // where the message just sent shows
        return;
      }
      body.value = "";
      updateCount();
      toBottom();
      if (answer.note_id) {
        // The mode stays: the next text is a note too until "Message" is chosen.
        await loadNote(answer.note_id);
        return;
      }
      // A message to one person is an aside: the next goes to everyone again.
      to.value = "all";
      schedule(answer.message_id);
    } catch {
      const what = mode() === "note" ? "the note was not kept" : "the message was not sent";
      showFieldError(body, `Could not reach the server: ${what}.`);
    } finally {
      button.disabled = false;
      body.focus();
    }
  });
}

// The private note form: kept without a page load; the note shows at once here, and
// in other open pages through note.created.
export function setupNoteForm(form, { loadNote, toBottom, latestUrl }) {
  const note = form.querySelector("textarea");
  const button = form.querySelector('button[type="submit"]');
  note.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (button.disabled) return;
    button.disabled = true;
    showFieldError(note, null);
    try {
      const response = await csrfFetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) {
        showFieldError(note, answer.error?.fields?.note ?? answer.error?.message ?? "The note was not kept. Try again.");
        return;
      }
      if (latestUrl) {
        location.assign(latestUrl);
        return;
      }
      note.value = "";
      toBottom();
      await loadNote(answer.note_id);
    } catch {
      showFieldError(note, "Could not reach the server: the note was not kept.");
    } finally {
      button.disabled = false;
      note.focus();
    }
  });
}
