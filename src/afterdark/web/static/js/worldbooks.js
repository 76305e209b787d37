// Settings: the user's world books, lorebooks of their own that join every chat while on.
// Import a V3 lorebook or SillyTavern world info, turn a book on or off, rename, download, delete.
import { API, del, get, patch, upload } from "./api.js";
import { busy, confirmAction, formError, h, timeEl } from "./ui.js";

const FORMATS = [
  ["v3", "V3 lorebook"],
  ["sillytavern", "SillyTavern"],
];

const list = document.getElementById("world-list");
const loading = document.getElementById("worlds-loading");
const empty = document.getElementById("worlds-empty");
const stateLine = document.getElementById("world-state");
const errorLine = document.getElementById("world-error");
const importButton = document.getElementById("world-import");
const fileInput = document.getElementById("world-file");

function entries(n) {
  return n === 1 ? "1 entry" : `${n} entries`;
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
  const pop = menu.querySelector(".menu-pop");
  menu.addEventListener("toggle", () => {
    // Keep the panel inside the window: shift it left when it would overflow on the right.
    pop.style.left = "0px";
    if (!menu.open) return;
    for (const other of list.querySelectorAll(".world-download[open]")) if (other !== menu) other.open = false;
    const overflow = pop.getBoundingClientRect().right - (document.documentElement.clientWidth - 8);
    if (overflow > 0) pop.style.left = `${-overflow}px`;
  });
  menu.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && menu.open) {
      close();
      menu.querySelector("summary").focus();
    }
  });
  return menu;
}

function bookRow(initial) {
  let book = initial;
  const nameEl = h("span", { class: "token-name world-name", "data-testid": "world-name" }, book.name);
  const countEl = h("span", { "data-testid": "world-entries" }, entries(book.entries));
  const meta = h("span", { class: "muted token-meta" }, countEl, " · updated ", timeEl(book.updated_at));
  const toggle = h("input", {
    type: "checkbox", role: "switch", checked: book.enabled, "data-testid": "world-enabled",
  });
  const switchText = h("span", {}, "Use in chats");
  const switchLabel = h("label", { class: "check world-switch" }, toggle, switchText);

  const renameButton = h("button", { type: "button", class: "btn btn-small", "data-testid": "world-rename" },
    h("span", { icon: "edit" }), "Rename");
  const deleteButton = h("button", {
    type: "button", class: "btn btn-small btn-quiet-danger", "data-testid": "world-delete",
  }, h("span", { icon: "trash" }), "Delete");
  const actions = h("div", { class: "world-actions" }, renameButton, downloadMenu(book), deleteButton);

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
      h("span", { class: "token-body" }, nameEl, meta),
      switchLabel),
    actions,
    renameForm);

  /** Names for assistive tech follow the book's current name. */
  function label() {
    toggle.setAttribute("aria-label", `Use in chats: ${book.name}`);
    renameButton.setAttribute("aria-label", `Rename ${book.name}`);
    deleteButton.setAttribute("aria-label", `Delete ${book.name}`);
    actions.querySelector("summary").setAttribute("aria-label", `Download ${book.name}`);
    actions.querySelector(".menu-list").setAttribute("aria-label", `Download ${book.name} as`);
    item.classList.toggle("is-off", !book.enabled);
  }

  function show(next) {
    book = { ...book, ...next };
    nameEl.textContent = book.name;
    countEl.textContent = entries(book.entries);
    meta.querySelector("time").replaceWith(timeEl(book.updated_at));
    toggle.checked = Boolean(book.enabled);
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
      report(book.enabled
        ? `“${book.name}” is on: its entries join your chats.`
        : `“${book.name}” is off: kept, but not used in chats.`);
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

// Close an open download menu on a click anywhere else.
document.addEventListener("click", (e) => {
  for (const menu of list.querySelectorAll(".world-download[open]")) {
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
  report(`Imported “${book.name}” with ${entries(book.entries)}. It's on.`);
});

/** Fill the list; the import button works once it has loaded. */
export async function loadWorldBooks() {
  let books;
  try {
    books = await get("/worldbooks");
  } catch (err) {
    loading.textContent = "Could not load your world books.";
    throw err;
  }
  list.replaceChildren(...books.map(bookRow));
  loading.hidden = true;
  showEmpty();
  importButton.disabled = false;
}
