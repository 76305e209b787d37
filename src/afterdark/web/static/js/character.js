import { get, post, requireUser, url } from "./api.js";
import { conversationItem } from "./convlist.js";
import { busy, fillAvatar, fillNames, h, pageObjectId, renderRichText, showError } from "./ui.js";

const id = pageObjectId();
const startForm = document.getElementById("start-form");

const FIELDS = [
  ["description", "Description"],
  ["personality", "Personality"],
  ["scenario", "Scenario"],
  ["first_message", "First message"],
  ["creator_notes", "Creator's notes"],
];

async function load() {
  const article = document.getElementById("character");
  const [c, persona] = await Promise.all([get(`/characters/${id}`), get("/me/persona").catch(() => null)]);
  const names = { char: c.name, user: (persona && persona.name) || "you" };
  document.title = `${c.name} · Afterdark`;
  document.getElementById("character-name").textContent = c.name;
  document.getElementById("character-name-2").textContent = c.name;
  document.getElementById("character-tagline").textContent = c.tagline || "";
  fillAvatar(document.getElementById("character-avatar"), c.name, c.avatar_url);
  document.getElementById("character-tags").replaceChildren(
    ...(c.tags || []).map((t) => h("li", { class: "tag" }, h("a", { href: url(`/characters?tag=${encodeURIComponent(t)}`) }, t))));
  const dl = document.getElementById("character-fields");
  dl.replaceChildren();
  if (c.age) dl.append(h("dt", {}, "Age"), h("dd", {}, String(c.age)));
  for (const [key, label] of FIELDS) {
    if (!c[key]) continue;
    const dd = h("dd", { class: "rich" });
    renderRichText(dd, fillNames(c[key], names));
    dl.append(h("dt", {}, label), dd);
  }
  if (c.alternate_greetings?.length) {
    dl.append(h("dt", {}, "Other greetings"),
      h("dd", {}, `${c.alternate_greetings.length} more — swipe the first message in a chat to see them.`));
  }
  article.setAttribute("aria-busy", "false");
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

(async () => {
  await requireUser();
  await Promise.all([load().catch(showError), loadConversations().catch(showError)]);
})();
