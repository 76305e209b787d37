// Card import: a drop zone and a file picker that upload any number of cards in one request,
// then list what became of each file.
import { upload, url } from "./api.js";
import { h, showError } from "./ui.js";

function resultRow(r) {
  if (r.character) {
    const c = r.character;
    return h("li", { class: "import-row import-ok", "data-testid": "import-result", "data-status": "ok" },
      h("span", { class: "import-file" }, r.filename),
      h("span", { class: "import-outcome" },
        "Imported ",
        h("a", { href: url(`/characters/${c.id}`), "data-testid": "import-link" }, c.name),
        " · ",
        h("a", { href: url(`/studio/${c.id}`) }, "Edit in Studio")));
  }
  return h("li", { class: "import-row import-failed", "data-testid": "import-result", "data-status": "error" },
    h("span", { class: "import-file" }, r.filename),
    h("span", { class: "import-outcome import-error", "data-testid": "import-error" },
      r.error || "This file could not be imported."));
}

/**
 * Wire up `zone` (a drop target holding a file `input`) to upload cards and show the outcome
 * in `results`; `onImported(list)` runs after any card came in.
 */
export function setupImport({ zone, input, results, status, onImported }) {
  let running = false;

  async function send(files) {
    if (!files.length || running) return;
    running = true;
    zone.setAttribute("aria-busy", "true");
    status.textContent = files.length === 1 ? `Importing ${files[0].name}…` : `Importing ${files.length} files…`;
    try {
      const outcome = await upload("POST", "/characters/import", { files });
      results.replaceChildren(...outcome.map(resultRow));
      const ok = outcome.filter((r) => r.character).length;
      const failed = outcome.length - ok;
      status.textContent = failed
        ? `${ok} of ${outcome.length} imported; ${failed} could not be read.`
        : `${ok} imported.`;
      if (ok) onImported(outcome);
    } catch (err) {
      status.textContent = "";
      showError(err);
    } finally {
      running = false;
      zone.setAttribute("aria-busy", "false");
      input.value = "";
    }
  }

  input.addEventListener("change", () => send([...input.files]));
  let depth = 0;
  zone.addEventListener("dragenter", (e) => {
    e.preventDefault();
    depth += 1;
    zone.classList.add("is-over");
  });
  zone.addEventListener("dragover", (e) => {
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = "copy";
  });
  zone.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) zone.classList.remove("is-over");
  });
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    depth = 0;
    zone.classList.remove("is-over");
    send([...(e.dataTransfer?.files || [])]);
  });
  // A file dropped next to the zone must not make the browser leave the page to open it.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
  return { send };
}
