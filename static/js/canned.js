// Canned replies in the staff composer: "/" at the start of the message lists them,
// filtered by what follows ("/add" finds "Address confirmation"); the arrow keys choose,
// Enter inserts, Escape closes, a click inserts too. The textarea keeps its textbox role
// and follows the combobox pattern's attributes that role allows (aria-autocomplete,
// aria-controls, aria-activedescendant); a status line says what the list holds.

let serial = 0;

export function setupCannedReplies(field, optionsUrl) {
  const id = `canned-list-${++serial}`;
  const list = document.createElement("ul");
  list.id = id;
  list.className = "canned-list";
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "Canned replies");
  list.hidden = true;
  const status = document.createElement("p");
  status.className = "visually-hidden";
  status.setAttribute("role", "status");
  field.after(list, status);
  field.setAttribute("aria-autocomplete", "list");
  field.setAttribute("aria-haspopup", "listbox");
  field.setAttribute("aria-controls", id);

  let replies = null; // loaded when the list opens
  let shown = [];
  let active = -1;
  let dismissed = false;
  let loading = null;

  async function load() {
    loading ??= fetch(optionsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : { replies: [] }))
      .then((answer) => answer.replies ?? [])
      .catch(() => []);
    replies = await loading;
    loading = null;
  }

  function close() {
    list.hidden = true;
    list.replaceChildren();
    shown = [];
    active = -1;
    field.removeAttribute("aria-activedescendant");
    status.textContent = "";
  }

  function query() {
    const found = /^\/([^\n]*)$/.exec(field.value);
    return found ? found[1].trim().toLowerCase() : null;
  }

  function highlight(index) {
    active = index;
    list.querySelectorAll('[role="option"]').forEach((option, at) => {
      option.setAttribute("aria-selected", String(at === index));
    });
    const option = list.children[index];
    if (option?.id) {
      field.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      field.removeAttribute("aria-activedescendant");
    }
  }

  function render(words) {
    shown = replies.filter((reply) => reply.title.toLowerCase().includes(words));
    list.replaceChildren(
      ...shown.map((reply, at) => {
        const option = document.createElement("li");
        option.id = `${id}-${at}`;
        option.className = "canned-option";
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        const title = document.createElement("span");
        title.className = "canned-title";
        title.textContent = reply.title;
        const preview = document.createElement("span");
        preview.className = "canned-preview";
        preview.textContent = reply.body;
        option.append(title, preview);
        option.addEventListener("mousedown", (event) => event.preventDefault()); // keep focus
        option.addEventListener("click", () => insert(reply));
        return option;
      }),
    );
    if (shown.length === 0) {
      const empty = document.createElement("li");
      empty.className = "canned-empty";
      empty.setAttribute("role", "presentation");
      empty.textContent = replies.length ? "No canned reply has that in its title." : "No canned replies yet.";
      list.append(empty);
    }
    list.hidden = false;
    highlight(shown.length ? 0 : -1);
    const count = shown.length;
    status.textContent = count
      ? `${count} canned repl${count === 1 ? "y" : "ies"}: up and down arrows to choose, Enter to insert, Escape to close.`
      : "No canned reply matches.";
  }

  function insert(reply) {
    field.value = reply.body;
    close();
    field.focus();
    field.setSelectionRange(reply.body.length, reply.body.length);
    // The counter and "someone is writing" follow the inserted text as if typed.
    field.dispatchEvent(new Event("input", { bubbles: true }));
  }

  async function update() {
    const words = query();
    if (words === null) {
      dismissed = false;
      close();
      return;
    }
    if (dismissed) return;
    if (replies === null || list.hidden) await load();
    if (query() !== words) return; // typed on meanwhile: that input renders
    render(words);
  }

  field.addEventListener("input", () => {
    update();
  });
  field.addEventListener("keydown", (event) => {
    if (list.hidden) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!shown.length) return;
      const step = event.key === "ArrowDown" ? 1 : -1;
      highlight((active + step + shown.length) % shown.length);
    } else if (event.key === "Enter" && !event.shiftKey && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      if (active >= 0) insert(shown[active]);
      else close();
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      dismissed = true;
      close();
    } else if (event.key === "Tab") {
      close();
    }
  });
  field.addEventListener("blur", () => {
    // A click on an option keeps the focus (mousedown is cancelled): this is leaving.
    close();
  });
}
