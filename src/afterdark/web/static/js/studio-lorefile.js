// The Studio's lorebook files: import a V3 lorebook or SillyTavern world info into a saved
// character's book (adding to its entries or replacing them), and export the saved book.
import { API, upload } from "./api.js";

function entryCount(book) {
  return book && Array.isArray(book.entries) ? book.entries.length : 0;
}

function entries(n) {
  return n === 1 ? "1 entry" : `${n} entries`;
}

/**
 * A <details> menu as in exportmenu.js: closes on a click elsewhere or Escape, and stays in the
 * window, opening upwards when `floor` (the sticky save bar) would cover it.
 */
function dropdown(menu, floor) {
  const pop = menu.querySelector(".menu-pop");
  const close = () => { menu.open = false; };
  menu.addEventListener("toggle", () => {
    pop.style.left = "0px";
    pop.classList.remove("is-up");
    if (!menu.open) return;
    const rect = pop.getBoundingClientRect();
    const overflow = rect.right - (document.documentElement.clientWidth - 8);
    if (overflow > 0) pop.style.left = `${-overflow}px`;
    const bottom = Math.min(window.innerHeight, floor && !floor.hidden ? floor.getBoundingClientRect().top : Infinity);
    const above = menu.getBoundingClientRect().top;
    if (rect.bottom > bottom && above - rect.height - 6 > 72) pop.classList.add("is-up");
  });
  document.addEventListener("click", (e) => { if (!menu.contains(e.target)) close(); });
  menu.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && menu.open) { close(); menu.querySelector("summary").focus(); }
  });
  return close;
}

/**
 * Wire the lorebook file controls. `prepare(file)` runs before an upload and resolves to false
 * to stop it (the Studio saves unsaved changes there); `onImported(character)` gets the result.
 */
export function lorebookFiles({ importMenu, exportMenu, input, hint, state, error, floor, prepare, onImported }) {
  let id = null;
  let saved = 0; // entries in the saved book
  let replace = false;
  let working = false;
  const closeImport = dropdown(importMenu, floor);
  const closeExport = dropdown(exportMenu, floor);
  const summary = importMenu.querySelector("summary");

  function report(text, problem = "") {
    state.textContent = text;
    error.textContent = problem;
    error.hidden = !problem;
  }

  for (const button of importMenu.querySelectorAll("[data-mode]")) {
    button.addEventListener("click", () => {
      closeImport();
      if (working || !id) return;
      replace = button.dataset.mode === "replace";
      input.click();
    });
  }
  for (const link of exportMenu.querySelectorAll("a[data-format]")) link.addEventListener("click", closeExport);

  input.addEventListener("change", async () => {
    const file = input.files[0];
    input.value = "";
    if (!file || !id || working) return;
    working = true;
    summary.setAttribute("aria-busy", "true");
    report("");
    try {
      if (!(await prepare(file))) {
        report("", `${file.name} was not imported: your changes need saving first.`);
        return;
      }
      report(`Importing ${file.name}…`);
      const before = saved;
      const c = await upload("PUT", `/characters/${id}/lorebook?replace=${replace}`, { file });
      onImported(c);
      const n = replace ? entryCount(c.book) : entryCount(c.book) - before;
      report(replace
        ? `Replaced the entries with ${entries(n)} from ${file.name}`
        : `Added ${entries(n)} from ${file.name}`);
    } catch (err) {
      report("", `${file.name} was not imported: ${err && err.message ? err.message : String(err)}`);
    } finally {
      working = false;
      summary.removeAttribute("aria-busy");
    }
  });

  return {
    /** Show the controls that fit `character` (null while it is new and unsaved). */
    set(character) {
      id = character ? character.id : null;
      saved = entryCount(character && character.book);
      const own = Boolean(character && character.is_own);
      importMenu.hidden = !own;
      exportMenu.hidden = !id || saved === 0;
      hint.hidden = Boolean(id);
      if (exportMenu.hidden) closeExport();
      for (const link of exportMenu.querySelectorAll("a[data-format]")) {
        if (id) link.href = `${API}/characters/${id}/lorebook?format=${link.dataset.format}`;
        else link.removeAttribute("href");
      }
    },
  };
}
