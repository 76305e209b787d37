// The catalogue: search, style, tag and "mine" filters (mirrored in the URL), and card import.
import { get, requireUser, url } from "./api.js";
import { setupImport } from "./importer.js";
import { fillAvatar, h, showError } from "./ui.js";

const list = document.getElementById("character-list");
const empty = document.getElementById("characters-empty");
const count = document.getElementById("result-count");
const search = document.getElementById("search-input");
const tagBox = document.getElementById("tag-filter");
const styleBox = document.getElementById("style-filter");
const mineButton = document.getElementById("mine-filter");

const STYLES = { realistic: "Realistic", anime: "Anime", fantasy: "Fantasy" };
const TOP_TAGS = 30;

const params = new URLSearchParams(window.location.search);
const filters = {
  q: params.get("q") || "",
  tag: (params.get("tag") || "").toLowerCase(),
  style: STYLES[params.get("style")] ? params.get("style") : "",
  mine: params.get("mine") === "true",
};
let pending = null;
search.value = filters.q;

function card(c) {
  // Tags compare case-insensitively; show them as the filter chips do, the active one first.
  const tags = [...new Set((c.tags || []).map((t) => t.toLowerCase()))]
    .sort((a, b) => (b === filters.tag) - (a === filters.tag))
    .slice(0, 4);
  const meta = [c.age ? `${c.age}` : null, STYLES[c.style] || null].filter(Boolean).join(" · ");
  return h("li", {},
    h("a", {
      class: "char-card", href: url(`/characters/${c.id}`),
      "data-testid": "character-card", "data-character-id": c.id, "data-style": c.style || "",
    },
      fillAvatar(h("span", { class: "portrait", "aria-hidden": "true" }), c.name, c.avatar_url),
      h("span", { class: "char-card-body" },
        h("span", { class: "char-card-name" }, c.name),
        h("span", { class: "char-card-meta muted" },
          meta ? h("span", { "data-testid": "character-meta" }, meta) : null,
          c.is_own ? h("span", { class: "badge" }, "Yours") : null,
          c.source ? h("span", { class: "badge", title: "Imported card format" }, c.source.toUpperCase()) : null),
        c.tagline ? h("span", { class: "char-card-tagline" }, c.tagline) : null,
        tags.length ? h("ul", { class: "tags" }, tags.map((t) => h("li", { class: "tag" }, t))) : null)));
}

function chip(tag, label) {
  return h("button", {
    type: "button", class: "chip", "aria-pressed": String(tag === filters.tag),
    "data-testid": "tag-chip", "data-tag": tag,
    onclick: () => { filters.tag = filters.tag === tag ? "" : tag; load(); },
  }, label);
}

async function loadTags() {
  const counted = await get("/characters/tags");
  const names = counted.slice(0, TOP_TAGS).map((t) => String(t.tag).toLowerCase());
  if (filters.tag && !names.includes(filters.tag)) names.unshift(filters.tag);
  tagBox.replaceChildren(chip("", "All tags"), ...names.map((t) => chip(t, t)));
  tagBox.hidden = names.length === 0;
}

function syncControls() {
  for (const b of tagBox.querySelectorAll(".chip")) b.setAttribute("aria-pressed", String(b.dataset.tag === filters.tag));
  for (const b of styleBox.querySelectorAll(".seg")) b.setAttribute("aria-pressed", String(b.dataset.style === filters.style));
  mineButton.setAttribute("aria-pressed", String(filters.mine));
}

function queryString() {
  const p = new URLSearchParams();
  if (filters.q) p.set("q", filters.q);
  if (filters.tag) p.set("tag", filters.tag);
  if (filters.style) p.set("style", filters.style);
  if (filters.mine) p.set("mine", "true");
  return p.toString();
}

async function load() {
  const qs = queryString();
  syncControls();
  pending?.abort();
  const mine = new AbortController();
  pending = mine;
  list.setAttribute("aria-busy", "true");
  try {
    const found = await get(`/characters${qs ? `?${qs}` : ""}`, { signal: mine.signal });
    list.replaceChildren(...found.map(card));
    // The address changes with what is shown, so a copied link shows the same list.
    history.replaceState(null, "", qs ? `?${qs}` : window.location.pathname);
    const filtered = Boolean(qs);
    empty.textContent = filters.mine && !filters.q && !filters.tag && !filters.style
      ? "You have no characters of your own yet. Create one, or import a card."
      : "No characters match.";
    empty.hidden = found.length > 0;
    count.textContent = found.length && filtered
      ? `${found.length} character${found.length === 1 ? "" : "s"}` : "";
  } catch (err) {
    showError(err);
  } finally {
    if (pending === mine) list.setAttribute("aria-busy", "false");
  }
}

let timer = null;
search.addEventListener("input", () => {
  clearTimeout(timer);
  timer = setTimeout(() => { filters.q = search.value.trim(); load(); }, 250);
});
document.getElementById("search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  clearTimeout(timer);
  filters.q = search.value.trim();
  load();
});
styleBox.addEventListener("click", (e) => {
  const button = e.target.closest(".seg");
  if (!button) return;
  filters.style = button.dataset.style;
  load();
});
mineButton.addEventListener("click", () => { filters.mine = !filters.mine; load(); });

// ---- import ----

const panel = document.getElementById("import-panel");
const toggle = document.getElementById("import-toggle");
const input = document.getElementById("import-input");

function showImport(open) {
  panel.hidden = !open;
  toggle.setAttribute("aria-expanded", String(open));
  if (open) document.getElementById("import-choose").focus();
}
toggle.addEventListener("click", () => showImport(panel.hidden));
document.getElementById("import-close").addEventListener("click", () => { showImport(false); toggle.focus(); });
document.getElementById("import-choose").addEventListener("click", () => input.click());
// Dragging files over the page opens the drop zone.
window.addEventListener("dragenter", (e) => {
  if (panel.hidden && e.dataTransfer?.types?.includes("Files")) {
    panel.hidden = false;
    toggle.setAttribute("aria-expanded", "true");
  }
});
setupImport({
  zone: document.getElementById("dropzone"),
  input,
  results: document.getElementById("import-results"),
  status: document.getElementById("import-status"),
  onImported: () => { loadTags().catch(showError); load(); },
});

(async () => {
  await requireUser();
  loadTags().catch(showError);
  await load();
})();
