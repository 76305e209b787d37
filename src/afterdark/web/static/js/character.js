// A character's page: who they are, how to start a chat, and what you can do with the card.
import { del, get, post, requireUser, url } from "./api.js";
import { conversationItem } from "./convlist.js";
import { exportMenu } from "./exportmenu.js";
import {
  busy, confirmAction, fillAvatar, fillNames, h, pageObjectId, renderRichText, showError,
} from "./ui.js";

const id = pageObjectId();
const startForm = document.getElementById("start-form");
const STYLES = { realistic: "Realistic", anime: "Anime", fantasy: "Fantasy" };

const FIELDS = [
  ["description", "Description"],
  ["appearance", "Appearance"],
  ["personality", "Personality"],
  ["backstory", "Backstory"],
  ["speaking_style", "Speaking style"],
  ["scenario", "Scenario"],
  ["first_message", "First message"],
  ["creator_notes", "Creator's notes"],
];

function subtitle(c) {
  return [
    c.nickname ? `“${c.nickname}”` : null,
    c.age ? `${c.age} years old` : (c.is_own ? "Age not set yet" : null),
    STYLES[c.style] || null,
    c.is_builtin ? "Built-in" : null,
    c.source ? `Imported ${c.source.toUpperCase()}` : null,
  ].filter(Boolean).join(" · ");
}

function renderFields(c, names) {
  const dl = document.getElementById("character-fields");
  dl.replaceChildren();
  for (const [key, label] of FIELDS) {
    if (!c[key]) continue;
    const dd = h("dd", { class: "rich", "data-field": key });
    renderRichText(dd, fillNames(c[key], names));
    dl.append(h("dt", {}, label), dd);
  }
  if (c.alternate_greetings?.length) {
    const n = c.alternate_greetings.length;
    dl.append(h("dt", {}, "Other greetings"),
      h("dd", {}, `${n} more — swipe the first message in a chat to see ${n === 1 ? "it" : "them"}.`));
  }
  if (c.example_dialogue) {
    const pre = h("div", { class: "rich" });
    renderRichText(pre, fillNames(c.example_dialogue, names));
    dl.append(h("dt", {}, "Example dialogue"),
      h("dd", {}, h("details", { class: "fold" }, h("summary", {}, "Show the examples"), pre)));
  }
  const entries = c.book?.entries?.length || 0;
  if (entries) {
    dl.append(h("dt", {}, "Lorebook"),
      h("dd", {}, `${entries} entr${entries === 1 ? "y" : "ies"}${c.book.name ? ` in “${c.book.name}”` : ""}.`));
  }
  const credit = [c.creator ? `by ${c.creator}` : null, c.character_version ? `version ${c.character_version}` : null]
    .filter(Boolean).join(", ");
  if (credit) dl.append(h("dt", {}, "Card"), h("dd", {}, credit));
}

function renderActions(c) {
  const edit = document.getElementById("edit-link");
  edit.href = url(`/studio/${c.id}`);
  edit.hidden = !c.is_own;
  document.getElementById("delete").hidden = !c.is_own;
  document.getElementById("builtin-note").hidden = !c.is_builtin;
  document.getElementById("export-slot").replaceChildren(exportMenu(c.id));
  document.getElementById("character-actions").hidden = false;
}

async function load() {
  const article = document.getElementById("character");
  const [c, persona] = await Promise.all([get(`/characters/${id}`), get("/me/persona").catch(() => null)]);
  const names = { char: c.nickname || c.name, user: (persona && persona.name) || "you" };
  document.title = `${c.name} · Afterdark`;
  document.getElementById("character-name").textContent = c.name;
  document.getElementById("character-name-2").textContent = c.name;
  document.getElementById("character-sub").textContent = subtitle(c);
  document.getElementById("character-tagline").textContent = c.tagline || "";
  fillAvatar(document.getElementById("character-avatar"), c.name, c.avatar_url);
  document.getElementById("character-tags").replaceChildren(
    ...(c.tags || []).map((t) => h("li", { class: "tag" },
      h("a", { href: url(`/characters?tag=${encodeURIComponent(t.toLowerCase())}`) }, t))));
  renderFields(c, names);
  renderActions(c);
  article.setAttribute("aria-busy", "false");
  return c;
}

async function loadConversations() {
  const list = document.getElementById("earlier-list");
  const found = await get(`/conversations?character_id=${id}`);
  list.replaceChildren(...found.map((c) => conversationItem(c)));
  document.getElementById("earlier-empty").hidden = found.length > 0;
}

startForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const scene = String(new FormData(startForm).get("scene") || "").trim();
  const body = { character_id: id };
  if (scene) body.scene = scene;
  try {
    const conv = await busy(startForm.querySelector('[type="submit"]'), () => post("/conversations", body));
    window.location.assign(url(`/chat/${conv.id}`));
  } catch (err) {
    showError(err);
  }
});

document.getElementById("duplicate").addEventListener("click", async (e) => {
  try {
    const copy = await busy(e.currentTarget, () => post(`/characters/${id}/duplicate`));
    window.location.assign(url(`/studio/${copy.id}`));
  } catch (err) {
    showError(err);
  }
});

document.getElementById("delete").addEventListener("click", async () => {
  const name = document.getElementById("character-name").textContent;
  const ok = await confirmAction(`Delete ${name}? Their chats go too. This cannot be undone.`);
  if (!ok) return;
  try {
    await del(`/characters/${id}`);
    window.location.assign(url("/characters?mine=true"));
  } catch (err) {
    showError(err);
  }
});

(async () => {
  await requireUser();
  await Promise.all([load().catch(showError), loadConversations().catch(showError)]);
})();
