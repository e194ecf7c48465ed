// The command palette: a modal <dialog> holding an ARIA combobox (a text field that
// filters a listbox of options). It lists the commands keys.js passes in, and chats
// whose reference, id, participant's name or number matches what is typed, found by the
// chat list's own search (/chats?q=…). Up and Down move, Enter runs, Escape closes.

const SEARCH_DELAY_MS = 150;
const MAX_CHATS = 8;

function matches(label, query) {
  const text = label.toLowerCase();
  return query
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((word) => text.includes(word));
}

/** Chats the list's search finds for `query`: [{id, label, reference}]. */
async function findChats(query) {
  const url = `/chats?status=all&q=${encodeURIComponent(query)}`;
  let response;
  try {
    response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
  } catch {
    return [];
  }
  if (!response.ok || response.redirected) return [];
  const page = new DOMParser().parseFromString(await response.text(), "text/html");
  return [...page.querySelectorAll("[data-live-list=chats] .inbox-row")].slice(0, MAX_CHATS).map((row) => ({
    id: row.dataset.itemId,
    names: row.querySelector(".inbox-link")?.textContent.trim() ?? row.dataset.itemId,
    reference: row.querySelector(".ref")?.textContent.trim() ?? "",
    closed: row.classList.contains("is-closed"),
  }));
}

export function createPalette({ commands, keyLabel, trapFocus }) {
  const dialog = document.createElement("dialog");
  dialog.className = "app-dialog palette";
  dialog.setAttribute("aria-label", "Command palette");
  dialog.innerHTML = `
    <label for="palette-input" class="visually-hidden">Command, or a chat's reference or id</label>
    <input id="palette-input" type="text" role="combobox" autocomplete="off" spellcheck="false"
           aria-expanded="true" aria-controls="palette-list" aria-autocomplete="list"
           placeholder="Type a command, or a chat's reference or id">
    <ul id="palette-list" class="palette-list" role="listbox" aria-label="Commands and chats"></ul>
    <p class="palette-empty" data-role="empty" hidden>Nothing matches.</p>
    <p class="visually-hidden" role="status" data-role="count"></p>`;
  document.body.append(dialog);
  trapFocus(dialog);

  const input = dialog.querySelector("input");
  const list = dialog.querySelector("ul");
  const empty = dialog.querySelector('[data-role="empty"]');
  const count = dialog.querySelector('[data-role="count"]');
  let options = [];
  let active = 0;
  let chats = [];
  let searchTimer = null;
  let searchSeq = 0;

  function render() {
    const query = input.value.trim();
    const found = commands()
      .filter((command) => !query || matches(command.label, query))
      .map((command) => ({ label: command.label, hint: keyLabel(command.keys), run: command.run }));
    for (const chat of chats) {
      const reference = chat.reference ? ` · ${chat.reference}` : "";
      found.push({
        label: `Open chat: ${chat.names}${reference}`,
        hint: chat.closed ? "closed" : chat.id,
        run: () => location.assign(`/chats/${encodeURIComponent(chat.id)}`),
      });
    }
    options = found;
    active = Math.min(active, Math.max(0, options.length - 1));
    list.replaceChildren(
      ...options.map((option, index) => {
        const item = document.createElement("li");
        item.id = `palette-option-${index}`;
        item.setAttribute("role", "option");
        item.setAttribute("aria-selected", String(index === active));
        const label = document.createElement("span");
        label.textContent = option.label;
        item.append(label);
        if (option.hint) {
          const hint = document.createElement("span");
          hint.className = "palette-hint";
          hint.textContent = option.hint;
          item.append(hint);
        }
        return item;
      }),
    );
    empty.hidden = options.length > 0;
    list.hidden = options.length === 0;
    input.setAttribute("aria-expanded", String(options.length > 0));
    if (options.length) input.setAttribute("aria-activedescendant", `palette-option-${active}`);
    else input.removeAttribute("aria-activedescendant");
    count.textContent = `${options.length} result${options.length === 1 ? "" : "s"}`;
  }

  function select(index) {
    if (!options.length) return;
    active = (index + options.length) % options.length;
    for (const [i, item] of [...list.children].entries()) {
      item.setAttribute("aria-selected", String(i === active));
    }
    input.setAttribute("aria-activedescendant", `palette-option-${active}`);
    list.children[active]?.scrollIntoView({ block: "nearest" });
  }

  function choose(index) {
    const option = options[index];
    if (!option) return;
    dialog.close();
    option.run();
  }

  function search() {
    clearTimeout(searchTimer);
    const query = input.value.trim();
    const seq = ++searchSeq;
    if (query.length < 2) {
      chats = [];
      return;
    }
    searchTimer = setTimeout(async () => {
      const found = await findChats(query);
      if (seq !== searchSeq) return; // typed on meanwhile
      chats = found;
      render();
    }, SEARCH_DELAY_MS);
  }

  input.addEventListener("input", () => {
    active = 0;
    search();
    render();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown") select(active + 1);
    else if (event.key === "ArrowUp") select(active - 1);
    else if (event.key === "Home" && event.ctrlKey) select(0);
    else if (event.key === "End" && event.ctrlKey) select(options.length - 1);
    else if (event.key === "Enter") choose(active);
    else return;
    event.preventDefault();
  });
  list.addEventListener("click", (event) => {
    const item = event.target.closest('[role="option"]');
    if (item) choose([...list.children].indexOf(item));
  });
  list.addEventListener("mousemove", (event) => {
    const item = event.target.closest('[role="option"]');
    const index = item ? [...list.children].indexOf(item) : -1;
    if (index >= 0 && index !== active) select(index);
  });

  return {
    open() {
      if (dialog.open) {
        input.select();
        return;
      }
      input.value = "";
      chats = [];
      active = 0;
      render();
      dialog.showModal();
      input.focus();
    },
  };
}
