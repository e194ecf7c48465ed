// Copy buttons: <button data-copy="#input-id" hidden> copies that field's value. The
// buttons stay hidden without JavaScript (the field can still be selected and copied).

function status(button, text) {
  const out = button.parentElement?.querySelector("[data-copy-status]");
  if (out) out.textContent = text;
}

async function copy(button) {
  const field = document.querySelector(button.dataset.copy);
  if (!field) return;
  try {
    await navigator.clipboard.writeText(field.value);
    status(button, "Copied.");
  } catch {
    field.select();
    status(button, "Selected: press Ctrl+C (⌘C) to copy.");
  }
}

function start() {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", () => copy(button));
  }
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start, { once: true });
} else {
  start();
}
