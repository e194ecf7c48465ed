// Copy buttons, on any page: <button data-copy="ID" hidden> copies the value (or, for
// other elements, the text) of the element with that id, and says so. The buttons stay
// hidden without this script: people then select and copy by hand. Rendered by the
// copy_button() macro of templates/macros.html.

const SHOWN_MS = 2000;

async function writeClipboard(text, source) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No Clipboard API (an http:// address other than localhost) or no permission:
    // the old way, through a selection.
    if (!(source instanceof HTMLInputElement || source instanceof HTMLTextAreaElement)) {
      return false;
    }
    source.focus();
    source.select();
    return document.execCommand?.("copy") ?? false;
  }
}

async function copyFrom(button) {
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const text = "value" in source ? source.value : source.textContent;
  const done = await writeClipboard(text, source);
  const status = document.querySelector(`[data-copy-status="${CSS.escape(button.dataset.copy)}"]`);
  const said = done ? "Copied to the clipboard" : "Could not copy: select the text and copy it";
  if (status) status.textContent = said;
  button.dataset.label ??= button.textContent;
  button.textContent = done ? "Copied ✓" : "Not copied";
  clearTimeout(Number(button.dataset.timer));
  button.dataset.timer = String(
    setTimeout(() => {
      button.textContent = button.dataset.label;
      if (status) status.textContent = "";
    }, SHOWN_MS),
  );
}

/** Show the copy buttons under `root` (those added later by a page script too). */
export function setupCopyButtons(root = document) {
  for (const button of root.querySelectorAll("button[data-copy]")) button.hidden = false;
}

document.addEventListener("click", (event) => {
  const button = event.target.closest?.("button[data-copy]");
  if (button) copyFrom(button);
});
