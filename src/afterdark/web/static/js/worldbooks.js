// Settings: the user's world books, lorebooks of their own. A book joins every chat while its
// "Every chat" switch is on, and otherwise the chats of the characters ticked in its Characters
// menu (and single chats chosen from the chat page). Import, rename, download, delete.
import { API, del, get, patch, put, upload, url } from "./api.js";
import { busy, confirmAction, formError, h, timeEl } from "./ui.js";

const FORMATS = [
  ["v3", "V3 lorebook"],
  ["sillytavern", "SillyTavern"],
];
// A Characters menu this long or longer gets a box to narrow it down.
const FILTER_FROM = 8;

const list = document.getElementById("world-list");
const loading = document.getElementById("worlds-loading");
const empty = document.getElementById("worlds-empty");
const stateLine = document.getElementById("world-state");
const errorLine = document.getElementById("world-error");
const importButton = document.getElementById("world-import");
const fileInput = document.getElementById("world-file");

// The characters the user can chat with (by name), for the menus and the "where" lines.
const cast = { list: [], names: new Map(), failed: false };

function entries(n) {
  return n === 1 ? "1 entry" : `${n} entries`;
}

function chats(n) {
  return n === 1 ? "1 chat" : `${n} chats`;
}

/** Where a book applies, in a few words: "Every chat", "Aria, Mira · 2 chats", "Not in use". */
function where(book) {
  if (book.enabled) return "Every chat";
  const ids = book.characters || [];
  const names = ids.filter((id) => cast.names.has(id)).map((id) => cast.names.get(id));
  const others = ids.length - names.length;
  if (others) names.push(others === 1 ? "1 other character" : `${others} other characters`);
  const parts = names.length ? [names.join(", ")] : [];
  const single = (book.conversations || []).length;
  if (single) parts.push(chats(single));
  return parts.length ? parts.join(" · ") : "Not in use";
}

function inUse(book) {
  return Boolean(book.enabled || (book.characters || []).length || (book.conversations || []).length);
}

/** Say how an action went (politely), or what went wrong (as an alert). */
function report(text, problem = "") {
  stateLine.textContent = text || "";
  errorLine.textContent = problem || "";
  errorLine.hidden = !problem;
}

function showEmpty() {
  empty.hidden = list.children.length > 0;
}

/**
 * A <details> menu of a book row: one open at a time, closed by Escape or a click elsewhere
 * (see the document listener below), and kept inside the window.
 */
function dropdown(menu) {
  const pop = menu.querySelector(".menu-pop");
  const close = () => { menu.open = false; };
  menu.addEventListener("toggle", () => {
    // Keep the panel inside the window: shift it left when it would overflow on the right.
    pop.style.left = "0px";
    if (!menu.open) return;
    for (const other of list.querySelectorAll(".menu[open]")) if (other !== menu) other.open = false;
    const overflow = pop.getBoundingClientRect().right - (document.documentElement.clientWidth - 8);
    if (overflow > 0) pop.style.left = `${-overflow}px`;
  });
  menu.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && menu.open) {
      e.preventDefault();
      close();
      menu.querySelector("summary").focus();
    }
  });
  return close;
}

/** The download menu of one book: a file per format. */
function downloadMenu(book) {
  const menu = h("details", { class: "menu world-download", "data-testid": "world-download" });
  const close = () => { menu.open = false; };
  const links = FORMATS.map(([format, label]) => h("a", {
    class: "menu-item", href: `${API}/worldbooks/${book.id}/export?format=${format}`, download: "",
    "data-format": format, "data-testid": `world-export-${format}`, onclick: close,
  }, label));
  menu.append(
    h("summary", { class: "btn btn-small", "aria-label": `Download ${book.name}`, "data-testid": "world-download-open" },
      h("span", { icon: "download" }), "Download"),
    h("div", { class: "menu-pop" },
      h("p", { class: "menu-hint muted" }, "The book as a file for other apps."),
      h("div", { class: "menu-list", role: "group", "aria-label": `Download ${book.name} as` }, links)));
  dropdown(menu);
  return menu;
}

/**
 * The Characters menu of one book: a checkbox per character the user can chat with. Ticking one
 * links the book to that character's chats, unticking unlinks it. `current()` is the book as
 * now; `apply(summary)` shows what the server answered.
 */
function charactersMenu(current, apply) {
  const menu = h("details", { class: "menu world-characters", "data-testid": "world-characters" });
  const summary = h("summary", { class: "btn btn-small", "data-testid": "world-characters-open" },
    h("span", { icon: "people" }), "Characters");
  const hint = h("p", { class: "menu-hint muted", "data-testid": "world-characters-hint" });
  const filter = h("input", {
    type: "search", class: "world-character-filter", placeholder: "Find a character", autocomplete: "off",
    "aria-label": "Find a character", "data-testid": "world-character-filter",
  });
  const choices = h("div", { class: "world-character-list", role: "group", "data-testid": "world-character-list" });
  menu.append(summary, h("div", { class: "menu-pop world-characters-pop" }, hint, filter, choices));

  function choice(character, linked) {
    const box = h("input", {
      type: "checkbox", checked: linked, "data-testid": "world-character-toggle", "data-character-id": character.id,
    });
    const item = h("label", { class: "check world-character", "data-testid": "world-character" },
      box, h("span", { class: "world-character-name" }, character.name));
    box.addEventListener("change", async () => {
      const wanted = box.checked;
      const book = current();
      const path = `/worldbooks/${book.id}/characters/${character.id}`;
      report("");
      box.disabled = true;
      try {
        apply(await (wanted ? put(path) : del(path)));
        report(wanted
          ? `“${book.name}” now joins your chats with ${character.name}.`
          : `“${book.name}” no longer joins your chats with ${character.name}.`);
      } catch (err) {
        box.checked = !wanted;
        report("", err.message);
      } finally {
        box.disabled = false;
      }
    });
    return item;
  }

  /** Rebuild the list on each opening: ticked ones first, in the order they were when it opened. */
  function fill() {
    const book = current();
    hint.textContent = book.enabled
      ? "It's in every chat now. The characters you tick keep it if you turn that off."
      : "Its entries join every chat with the characters you tick.";
    choices.setAttribute("aria-label", `Characters for ${book.name}`);
    const linked = new Set(book.characters || []);
    const gone = [...linked].filter((id) => !cast.names.has(id))
      .map((id) => ({ id, name: "A character you can't see now" }));
    const shown = [...gone, ...cast.list.filter((c) => linked.has(c.id)), ...cast.list.filter((c) => !linked.has(c.id))];
    filter.value = "";
    filter.hidden = shown.length < FILTER_FROM;
    if (shown.length) {
      choices.replaceChildren(...shown.map((c) => choice(c, linked.has(c.id))));
    } else {
      choices.replaceChildren(h("p", { class: "muted world-character-none", "data-testid": "world-characters-none" },
        cast.failed ? "Could not load your characters. Reload the page to try again." : "No characters yet. ",
        cast.failed ? null : h("a", { href: url("/characters") }, "Find one to chat with.")));
    }
  }

  filter.addEventListener("input", () => {
    const needle = filter.value.trim().toLocaleLowerCase();
    for (const item of choices.querySelectorAll(".world-character")) {
      item.hidden = Boolean(needle) && !item.textContent.toLocaleLowerCase().includes(needle);
    }
  });
  // Filled before dropdown() measures the panel.
  menu.addEventListener("toggle", () => { if (menu.open) fill(); });
  dropdown(menu);
  return menu;
}

function bookRow(initial) {
  let book = initial;
  const nameEl = h("span", { class: "token-name world-name", "data-testid": "world-name" }, book.name);
  const countEl = h("span", { "data-testid": "world-entries" }, entries(book.entries));
  const meta = h("span", { class: "muted token-meta" }, countEl, " · updated ", timeEl(book.updated_at));
  const whereEl = h("span", { "data-testid": "world-where" }, where(book));
  const whereLine = h("span", { class: "token-meta world-where" },
    h("span", { class: "visually-hidden" }, "Used in: "), whereEl);
  const toggle = h("input", {
    type: "checkbox", role: "switch", checked: book.enabled, "data-testid": "world-enabled",
  });
  const switchText = h("span", {}, "Every chat");
  const switchLabel = h("label", { class: "check world-switch" }, toggle, switchText);

  const renameButton = h("button", { type: "button", class: "btn btn-small", "data-testid": "world-rename" },
    h("span", { icon: "edit" }), "Rename");
  const deleteButton = h("button", {
    type: "button", class: "btn btn-small btn-quiet-danger", "data-testid": "world-delete",
  }, h("span", { icon: "trash" }), "Delete");
  const characters = charactersMenu(() => book, (next) => show(next));
  const actions = h("div", { class: "world-actions" }, characters, renameButton, downloadMenu(book), deleteButton);

  const nameInput = h("input", {
    type: "text", name: "name", required: true, maxlength: 120, autocomplete: "off", "data-testid": "world-rename-input",
  });
  const renameForm = h("form", { class: "world-rename-form", hidden: true, novalidate: true, "data-testid": "world-rename-form" },
    h("label", { class: "field" }, h("span", {}, "New name"), nameInput),
    h("p", { class: "form-error", role: "alert", hidden: true, "data-testid": "world-rename-error" }),
    h("div", { class: "world-rename-actions" },
      h("button", { type: "submit", class: "btn btn-primary btn-small", "data-testid": "world-rename-save" }, "Save"),
      h("button", { type: "button", class: "btn btn-small", "data-testid": "world-rename-cancel", onclick: () => closeRename() },
        "Cancel")));

  const item = h("li", { class: "token-item world-item", "data-testid": "world-item", "data-world-id": book.id },
    h("div", { class: "world-main" },
      h("span", { class: "token-body" }, nameEl, meta, whereLine),
      switchLabel),
    actions,
    renameForm);

  /** Names for assistive tech follow the book's current name. */
  function label() {
    toggle.setAttribute("aria-label", `Use in every chat: ${book.name}`);
    characters.querySelector("summary").setAttribute("aria-label", `Characters for ${book.name}`);
    renameButton.setAttribute("aria-label", `Rename ${book.name}`);
    deleteButton.setAttribute("aria-label", `Delete ${book.name}`);
    const download = actions.querySelector(".world-download");
    download.querySelector("summary").setAttribute("aria-label", `Download ${book.name}`);
    download.querySelector(".menu-list").setAttribute("aria-label", `Download ${book.name} as`);
    item.classList.toggle("is-off", !inUse(book));
  }

  function show(next) {
    book = { ...book, ...next };
    nameEl.textContent = book.name;
    countEl.textContent = entries(book.entries);
    meta.querySelector("time").replaceWith(timeEl(book.updated_at));
    toggle.checked = Boolean(book.enabled);
    whereEl.textContent = where(book);
    label();
  }

  function openRename() {
    nameInput.value = book.name;
    nameInput.removeAttribute("aria-invalid");
    formError(renameForm, "");
    renameForm.hidden = false;
    actions.hidden = true;
    nameInput.focus();
    nameInput.select();
  }

  function closeRename() {
    renameForm.hidden = true;
    actions.hidden = false;
    renameButton.focus();
  }

  renameButton.addEventListener("click", openRename);
  nameInput.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      e.preventDefault();
      closeRename();
    }
  });
  renameForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = nameInput.value.trim();
    formError(renameForm, "");
    nameInput.removeAttribute("aria-invalid");
    if (!name) {
      nameInput.setAttribute("aria-invalid", "true");
      formError(renameForm, "A world book needs a name.");
      nameInput.focus();
      return;
    }
    if (name === book.name) {
      closeRename();
      return;
    }
    const before = book.name;
    try {
      show(await busy(renameForm.querySelector('[type="submit"]'), () => patch(`/worldbooks/${book.id}`, { name })));
    } catch (err) {
      nameInput.setAttribute("aria-invalid", "true");
      formError(renameForm, err.message);
      nameInput.focus();
      return;
    }
    closeRename();
    report(`Renamed “${before}” to “${book.name}”.`);
  });

  toggle.addEventListener("change", async () => {
    const wanted = toggle.checked;
    report("");
    toggle.disabled = true;
    try {
      show(await patch(`/worldbooks/${book.id}`, { enabled: wanted }));
      if (book.enabled) report(`“${book.name}” is on in every chat.`);
      else if (inUse(book)) report(`“${book.name}” is off for every chat. It still joins: ${where(book)}.`);
      else report(`“${book.name}” is off: kept, but not used in chats.`);
    } catch (err) {
      toggle.checked = !wanted;
      report("", err.message);
    } finally {
      toggle.disabled = false;
    }
  });

  deleteButton.addEventListener("click", async () => {
    const text = `Delete the world book “${book.name}”? Its entries leave every chat. Download it first to keep a copy.`;
    if (!(await confirmAction(text))) return;
    report("");
    try {
      await busy(deleteButton, () => del(`/worldbooks/${book.id}`));
    } catch (err) {
      if (err.status !== 404) {
        report("", err.message);
        return;
      }
    }
    item.remove();
    showEmpty();
    report(`Deleted “${book.name}”.`);
    importButton.focus();
  });

  label();
  return item;
}

// Close an open menu on a click anywhere else.
document.addEventListener("click", (e) => {
  for (const menu of list.querySelectorAll(".menu[open]")) {
    if (!menu.contains(e.target)) menu.open = false;
  }
});

importButton.addEventListener("click", () => fileInput.click());

fileInput.addEventListener("change", async () => {
  const file = fileInput.files[0];
  fileInput.value = "";
  if (!file) return;
  report(`Importing ${file.name}…`);
  let book;
  try {
    book = await busy(importButton, () => upload("POST", "/worldbooks", { file }));
  } catch (err) {
    report("", `${file.name} was not imported: ${err && err.message ? err.message : String(err)}`);
    if (!(err && err.status)) console.error(err);
    return;
  }
  list.append(bookRow(book));
  showEmpty();
  report(`Imported “${book.name}” with ${entries(book.entries)}. It's on in every chat.`);
});

/** Fill the list; the import button works once it has loaded. */
export async function loadWorldBooks() {
  // The characters only name links and fill the menus: the books show without them.
  const characters = get("/characters").catch(() => null);
  let books;
  try {
    books = await get("/worldbooks");
  } catch (err) {
    loading.textContent = "Could not load your world books.";
    throw err;
  }
  const known = await characters;
  cast.failed = known === null;
  cast.list = (known || []).map((c) => ({ id: c.id, name: c.name }));
  cast.names = new Map(cast.list.map((c) => [c.id, c.name]));
  list.replaceChildren(...books.map(bookRow));
  loading.hidden = true;
  showEmpty();
  importButton.disabled = false;
}
