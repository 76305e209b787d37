import { get, requireUser, url } from "./api.js";
import { fillAvatar, h, showError } from "./ui.js";

const list = document.getElementById("character-list");
const empty = document.getElementById("characters-empty");
const search = document.getElementById("search-input");
const tagBox = document.getElementById("tag-filter");

const params = new URLSearchParams(window.location.search);
let query = params.get("q") || "";
let activeTag = params.get("tag") || "";
let pending = null;
search.value = query;

function card(c) {
  const tags = (c.tags || []).slice(0, 4).map((t) => h("li", { class: "tag" }, t));
  return h("li", {},
    h("a", {
      class: "char-card", href: url(`/characters/${c.id}`),
      "data-testid": "character-card", "data-character-id": c.id,
    },
      fillAvatar(h("span", { class: "avatar avatar-md", "aria-hidden": "true" }), c.name, c.avatar_url),
      h("span", { class: "char-card-body" },
        h("span", { class: "char-card-name" }, c.name,
          c.is_own ? h("span", { class: "badge" }, "Yours") : null),
        c.tagline ? h("span", { class: "char-card-tagline" }, c.tagline) : null,
        tags.length ? h("ul", { class: "tags" }, tags) : null)));
}

function renderTags(all) {
  const seen = new Map();
  for (const c of all) for (const t of c.tags || []) seen.set(t.toLowerCase(), t);
  if (activeTag) seen.set(activeTag.toLowerCase(), activeTag);
  const names = [...seen.values()].sort((a, b) => a.localeCompare(b));
  tagBox.replaceChildren(
    ...["", ...names].map((t) => h("button", {
      type: "button", class: "chip", "aria-pressed": String(t === activeTag),
      "data-testid": "tag-chip", "data-tag": t,
      onclick: () => { activeTag = activeTag === t ? "" : t; load(); },
    }, t || "All")));
  tagBox.hidden = names.length === 0;
}

function syncUrl() {
  const p = new URLSearchParams();
  if (query) p.set("q", query);
  if (activeTag) p.set("tag", activeTag);
  const qs = p.toString();
  history.replaceState(null, "", qs ? `?${qs}` : window.location.pathname);
}

async function load() {
  syncUrl();
  pending?.abort();
  pending = new AbortController();
  const p = new URLSearchParams();
  if (query) p.set("q", query);
  if (activeTag) p.set("tag", activeTag);
  list.setAttribute("aria-busy", "true");
  try {
    const qs = p.toString();
    const found = await get(`/characters${qs ? `?${qs}` : ""}`, { signal: pending.signal });
    list.replaceChildren(...found.map(card));
    empty.hidden = found.length > 0;
    for (const chip of tagBox.querySelectorAll(".chip")) {
      chip.setAttribute("aria-pressed", String(chip.dataset.tag === activeTag));
    }
  } catch (err) {
    showError(err);
  } finally {
    list.setAttribute("aria-busy", "false");
  }
}

let timer = null;
search.addEventListener("input", () => {
  clearTimeout(timer);
  timer = setTimeout(() => { query = search.value.trim(); load(); }, 250);
});
document.getElementById("search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  clearTimeout(timer);
  query = search.value.trim();
  load();
});

(async () => {
  await requireUser();
  try {
    renderTags(await get("/characters"));
  } catch (err) {
    showError(err);
  }
  await load();
})();
