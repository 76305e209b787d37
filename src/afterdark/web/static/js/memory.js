// A character's memory: the rolling summary, pinned memories, facts and notes by category,
// remembered chat lines, where each came from, and what went into the latest reply.
import { del, get, patch, post, requireUser, url } from "./api.js";
import {
  busy, confirmAction, formError, h, pageObjectId, renderRichText, showError, timeEl, toast,
} from "./ui.js";

const characterId = pageObjectId();
const EPISODE_PAGE = 50;

const CATEGORIES = [
  ["user", "About you"],
  ["character", "About them"],
  ["shared", "Together"],
  ["plan", "Plans"],
  ["preference", "Likes and dislikes"],
  ["other", "Other"],
];
const CATEGORY_LABEL = Object.fromEntries(CATEGORIES);
const ORIGIN_LABEL = {
  chat: "From a chat",
  extracted: "Noticed in a chat",
  summarised: "Summary",
  user: "Written by you",
  imported: "Imported",
};

const stateLine = document.getElementById("memory-state");
const addForm = document.getElementById("add-form");
const filterBar = document.getElementById("category-filter");
const episodesMore = document.getElementById("episodes-more");

let characterName = "them";
let memories = [];
let filter = "";
let episodesShown = EPISODE_PAGE;

/** Say how an action went, for people and for screen readers. */
function report(text) {
  stateLine.textContent = text || "";
}

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

function clip(text, n = 60) {
  const flat = String(text || "").replace(/\s+/g, " ").trim();
  return flat.length > n ? `${flat.slice(0, n - 1)}…` : flat;
}

function categoryOptions(select, chosen) {
  select.replaceChildren(...CATEGORIES.map(([value, label]) =>
    h("option", { value, selected: value === chosen }, label)));
}

// ---------- one memory ----------

/** `el` with chat text in it, *actions* in italics as in the chat. */
function richText(el, text) {
  renderRichText(el, text);
  return el;
}

/** The list of messages a memory came from (filled on first open). */
function sourcesPanel(m) {
  const panel = h("div", { class: "memory-sources", hidden: true, "data-testid": "memory-sources" });
  let loaded = false;
  async function load() {
    if (loaded) return;
    panel.replaceChildren(h("p", { class: "muted" }, "Loading…"));
    const found = await get(`/memories/${m.id}/sources`);
    loaded = true;
    if (!found.length) {
      panel.replaceChildren(h("p", { class: "muted", "data-testid": "sources-empty" },
        "The messages it came from have been deleted."));
      return;
    }
    panel.replaceChildren(h("ol", { class: "source-list", "aria-label": "Where it came from" },
      found.map((s) => h("li", { class: "source-item", "data-testid": "source-item" },
        h("div", { class: "source-meta" },
          h("span", { class: "source-role", "data-testid": "source-role" },
            s.role === "user" ? "You" : s.role === "assistant" ? characterName : "Narrator"),
          timeEl(s.created_at)),
        richText(h("p", { class: "source-text rich", "data-testid": "source-text" }), s.content),
        h("a", { class: "btn btn-small source-link", href: url(`/chat/${s.conversation_id}`), "data-testid": "source-link" },
          h("span", { icon: "chat" }), "Open the chat")))));
  }
  return { panel, load };
}

function memoryItem(m, { compact = false } = {}) {
  const text = h("p", { class: "memory-text rich", "data-testid": "memory-text" }, m.text);
  const meta = h("div", { class: "memory-meta" },
    compact || m.kind === "summary"
      ? null
      : h("span", { class: "badge", "data-testid": "memory-category" }, CATEGORY_LABEL[m.category] || m.category),
    m.shared ? h("span", { class: "badge badge-shared", title: "Every character remembers this", "data-testid": "memory-shared" }, "Every character") : null,
    m.pinned ? h("span", { class: "badge badge-pinned", "data-testid": "memory-pinned" }, "Pinned") : null,
    compact ? null : h("span", { class: "muted" }, ORIGIN_LABEL[m.origin] || m.origin),
    h("span", { class: "muted" }, timeEl(m.happened_at || m.created_at)));
  const short = clip(m.text, 40);
  const actions = h("div", { class: "memory-actions" });
  const item = h("li", { class: "memory-item", "data-testid": "memory-item", "data-memory-id": m.id, "data-kind": m.kind },
    text, meta, actions);

  let sources = null;
  if (m.sources > 0) {
    sources = sourcesPanel(m);
    const toggle = h("button", {
      type: "button", class: "btn btn-small", "aria-expanded": "false", "data-testid": "memory-sources-toggle",
    }, `From ${plural(m.sources, "message", "messages")}`);
    toggle.addEventListener("click", async () => {
      const open = sources.panel.hidden;
      sources.panel.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
      if (open) {
        try {
          await sources.load();
        } catch (err) {
          sources.panel.hidden = true;
          toggle.setAttribute("aria-expanded", "false");
          showError(err);
        }
      }
    });
    actions.append(toggle);
  }

  if (!compact) {
    actions.append(h("button", {
      type: "button", class: "btn btn-small", "aria-label": `Edit “${short}”`, "data-testid": "memory-edit",
      onclick: () => openEdit(),
    }, h("span", { icon: "edit" }), "Edit"));
    if (m.kind !== "summary") {
      actions.append(h("button", {
        type: "button", class: "btn btn-small", "aria-pressed": String(m.pinned), "data-testid": "memory-pin",
        "aria-label": m.pinned ? `Unpin “${short}”` : `Pin “${short}”`,
        onclick: (e) => change(e.currentTarget, m, { pinned: !m.pinned }, m.pinned ? "Unpinned." : "Pinned: it goes into every reply."),
      }, m.pinned ? "Unpin" : "Pin"));
      // A shared note written by hand belongs to no chat, so there is no character to give it back to.
      if (!m.shared || m.conversation_id !== null) {
        actions.append(h("button", {
          type: "button", class: "btn btn-small", "aria-pressed": String(m.shared), "data-testid": "memory-share",
          "aria-label": m.shared ? `Keep “${short}” to ${characterName} only` : `Share “${short}” with every character`,
          onclick: (e) => change(e.currentTarget, m, { shared: !m.shared },
            m.shared ? `Only ${characterName} remembers it now.` : "Every character remembers it now."),
        }, m.shared ? "Unshare" : "Share"));
      }
    }
  }
  actions.append(h("button", {
    type: "button", class: "btn btn-small btn-quiet-danger", "aria-label": `Delete “${short}”`, "data-testid": "memory-delete",
    onclick: (e) => remove(e.currentTarget, m),
  }, h("span", { icon: "trash" }), "Delete"));

  if (sources) item.append(sources.panel);
  if (compact) return item;

  // Edit in place: the text and its category.
  const editText = h("textarea", { name: "text", rows: 3, maxlength: 2000, required: true, "data-testid": "memory-edit-text" });
  const editCategory = h("select", { name: "category", "data-testid": "memory-edit-category" });
  const editForm = h("form", { class: "memory-edit-form", hidden: true, novalidate: true, "data-testid": "memory-edit-form" },
    h("label", { class: "field" }, h("span", {}, "Text"), editText),
    m.kind === "summary" ? null : h("label", { class: "field" }, h("span", {}, "Category"), editCategory),
    h("p", { class: "form-error", role: "alert", hidden: true, "data-testid": "memory-edit-error" }),
    h("div", { class: "memory-edit-actions" },
      h("button", { type: "submit", class: "btn btn-primary btn-small", "data-testid": "memory-edit-save" }, "Save"),
      h("button", { type: "button", class: "btn btn-small", "data-testid": "memory-edit-cancel", onclick: () => closeEdit() }, "Cancel")));
  item.append(editForm);

  function openEdit() {
    editText.value = m.text;
    categoryOptions(editCategory, m.category);
    formError(editForm, "");
    editText.removeAttribute("aria-invalid");
    editForm.hidden = false;
    text.hidden = true;
    actions.hidden = true;
    editText.focus();
  }

  function closeEdit() {
    editForm.hidden = true;
    text.hidden = false;
    actions.hidden = false;
    item.querySelector('[data-testid="memory-edit"]').focus();
  }

  editForm.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      e.preventDefault();
      closeEdit();
    }
  });
  editForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = editText.value.trim();
    formError(editForm, "");
    if (!value) {
      editText.setAttribute("aria-invalid", "true");
      formError(editForm, "A memory needs some text.");
      editText.focus();
      return;
    }
    const body = {};
    if (value !== m.text) body.text = value;
    if (m.kind !== "summary" && editCategory.value !== m.category) body.category = editCategory.value;
    if (!Object.keys(body).length) {
      closeEdit();
      return;
    }
    try {
      const saved = await busy(editForm.querySelector('[type="submit"]'), () => patch(`/memories/${m.id}`, body));
      replace(saved);
    } catch (err) {
      formError(editForm, err.message);
      editText.focus();
      return;
    }
    report("Saved.");
    focusOn(m.id, "memory-edit");
  });
  return item;
}

// ---------- actions ----------

function replace(saved) {
  memories = memories.map((x) => (x.id === saved.id ? saved : x));
  render();
}

/** After a re-render, put the focus back on the same control of the same memory. */
function focusOn(id, testid) {
  const item = document.querySelector(`[data-memory-id="${id}"]`);
  const target = item && item.querySelector(`[data-testid="${testid}"]`);
  if (target) target.focus();
}

async function change(button, m, body, done) {
  const testid = button.dataset.testid;
  try {
    replace(await busy(button, () => patch(`/memories/${m.id}`, body)));
  } catch (err) {
    showError(err);
    return;
  }
  report(done);
  focusOn(m.id, testid);
}

async function remove(button, m) {
  const what = m.kind === "summary" ? "this summary" : `“${clip(m.text)}”`;
  const shared = m.shared ? " Every character forgets it." : "";
  if (!(await confirmAction(`Delete ${what}?${shared} This cannot be undone.`))) return;
  try {
    await busy(button, () => del(`/memories/${m.id}`));
  } catch (err) {
    if (err.status !== 404) {
      showError(err);
      return;
    }
  }
  memories = memories.filter((x) => x.id !== m.id);
  render();
  report("Deleted: it is forgotten.");
  loadWhy().catch(showError);
}

// ---------- the lists ----------

function fill(listId, emptyId, items, options) {
  document.getElementById(listId).replaceChildren(...items.map((m) => memoryItem(m, options)));
  document.getElementById(emptyId).hidden = items.length > 0;
}

function renderFilter(present) {
  const choices = [["", "All"], ...CATEGORIES.filter(([value]) => present.has(value))];
  if (filter && !present.has(filter)) filter = "";
  filterBar.replaceChildren(...choices.map(([value, label]) => h("button", {
    type: "button", class: "seg", "aria-pressed": String(value === filter), "data-category": value,
    "data-testid": `filter-${value || "all"}`,
    onclick: () => {
      filter = value;
      render();
    },
  }, label)));
  // Filtering one category is only worth offering when there is more than one.
  filterBar.hidden = present.size < 2;
}

function renderGroups(facts) {
  const present = new Set(facts.map((m) => m.category));
  renderFilter(present);
  const groups = CATEGORIES.filter(([value]) => present.has(value) && (!filter || filter === value))
    .map(([value, label]) => {
      const items = facts.filter((m) => m.category === value);
      const headingId = `group-${value}`;
      return h("section", { class: "memory-group", "data-category": value, "data-testid": "memory-group" },
        h("h3", { id: headingId }, label, " ", h("span", { class: "muted" }, `(${items.length})`)),
        h("ul", { class: "memory-list", "aria-labelledby": headingId }, items.map((m) => memoryItem(m))));
    });
  document.getElementById("fact-groups").replaceChildren(...groups);
  document.getElementById("facts-empty").hidden = facts.length > 0;
}

function renderEpisodes(episodes) {
  document.getElementById("episode-count").textContent = String(episodes.length);
  const shown = episodes.slice(0, episodesShown);
  fill("episode-list", "episodes-empty", shown, { compact: true });
  episodesMore.hidden = episodes.length <= shown.length;
  episodesMore.textContent = `Show more (${episodes.length - shown.length} left)`;
}

function render() {
  const of = (kind) => memories.filter((m) => m.kind === kind);
  fill("summary-list", "summary-empty", of("summary"));
  const kept = memories.filter((m) => m.kind === "fact" || m.kind === "note");
  fill("pinned-list", "pinned-empty", kept.filter((m) => m.pinned));
  renderGroups(kept.filter((m) => !m.pinned));
  renderEpisodes(of("episode"));
}

async function loadMemories() {
  memories = await get(`/characters/${characterId}/memories`);
  render();
}

// ---------- why did they say that? ----------

let worldNames = null;

async function bookLabel(book) {
  if (book === "character") return `${characterName}'s lorebook`;
  const id = Number.parseInt(String(book).replace(/^world:/, ""), 10);
  if (worldNames === null) {
    const books = await get("/worldbooks").catch(() => []);
    worldNames = new Map(books.map((b) => [b.id, b.name]));
  }
  return worldNames.has(id) ? `World book “${worldNames.get(id)}”` : "A world book";
}

async function loadWhy() {
  const body = document.getElementById("why-body");
  let trace;
  try {
    trace = await get(`/characters/${characterId}/memories/last-reply`);
  } catch (err) {
    if (err.status !== 404) throw err;
    body.replaceChildren(h("p", { class: "muted", "data-testid": "why-empty" },
      `No reply from ${characterName} has a record yet of what went into it. Chat, then look here.`));
    return;
  }
  const memoryItems = trace.memories.map((m) => h("li", { class: "why-item", "data-testid": "why-memory" },
    h("span", { class: "rich" }, m.text), " ",
    h("span", { class: "badge" }, m.kind === "summary" ? "Summary" : CATEGORY_LABEL[m.category] || m.category)));
  const labels = await Promise.all(trace.lore.map((e) => bookLabel(e.book)));
  const loreItems = trace.lore.map((e, i) => h("li", { class: "why-item", "data-testid": "why-lore" },
    h("span", {}, e.name || `Entry ${e.entry}`), " ", h("span", { class: "muted" }, `· ${labels[i]}`)));
  body.replaceChildren(
    h("p", {}, h("a", { class: "btn btn-small", href: url(`/chat/${trace.conversation_id}`), "data-testid": "why-chat" },
      h("span", { icon: "chat" }), "Open that chat")),
    h("h3", {}, `Memories (${trace.memories.length})`),
    memoryItems.length
      ? h("ul", { class: "why-list", "data-testid": "why-memories" }, memoryItems)
      : h("p", { class: "muted", "data-testid": "why-no-memories" }, "No memories went into it."),
    trace.deleted
      ? h("p", { class: "hint", "data-testid": "why-deleted" },
        `${plural(trace.deleted, "more memory", "more memories")} went in and ${trace.deleted === 1 ? "has" : "have"} been deleted since.`)
      : null,
    h("h3", {}, `Lorebook entries (${trace.lore.length})`),
    loreItems.length
      ? h("ul", { class: "why-list", "data-testid": "why-lore-list" }, loreItems)
      : h("p", { class: "muted", "data-testid": "why-no-lore" }, "No lorebook entries went into it."));
}

// ---------- page ----------

episodesMore.addEventListener("click", () => {
  const first = episodesShown;
  episodesShown += EPISODE_PAGE;
  renderEpisodes(memories.filter((m) => m.kind === "episode"));
  const next = document.querySelectorAll("#episode-list > li")[first];
  const target = next && next.querySelector("button");
  (target || episodesMore).focus();
});

addForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(addForm);
  const text = String(data.get("text") || "").trim();
  const field = addForm.elements.text;
  formError(addForm, "");
  field.removeAttribute("aria-invalid");
  if (!text) {
    field.setAttribute("aria-invalid", "true");
    formError(addForm, "Write what they should remember.");
    field.focus();
    return;
  }
  const body = {
    text,
    category: String(data.get("category") || "other"),
    pinned: data.get("pinned") === "on",
    shared: data.get("shared") === "on",
  };
  let made;
  try {
    made = await busy(addForm.querySelector('[type="submit"]'), () => post(`/characters/${characterId}/memories`, body));
  } catch (err) {
    formError(addForm, err.message);
    field.focus();
    return;
  }
  memories = [made, ...memories];
  addForm.reset();
  if (filter && filter !== made.category) filter = "";
  render();
  report(made.shared ? "Remembered, with every character." : `Remembered: ${characterName} knows it now.`);
});

document.getElementById("forget-all").addEventListener("click", async (e) => {
  const button = e.currentTarget; // the event's currentTarget is gone after the confirmation
  const text = `Forget everything ${characterName} remembers of your chats? Summaries, facts, notes and `
    + "remembered lines are deleted; memories shared with every character stay. This cannot be undone.";
  if (!(await confirmAction(text, "Forget"))) return;
  let answer;
  try {
    answer = await busy(button, () => del(`/characters/${characterId}/memories`));
  } catch (err) {
    showError(err);
    return;
  }
  const message = `${characterName} forgot ${plural(answer.deleted, "memory", "memories")}.`;
  report(message);
  toast(message, "ok");
  await Promise.all([loadMemories(), loadWhy()]).catch(showError);
});

async function loadCharacter() {
  const c = await get(`/characters/${characterId}`);
  characterName = c.nickname || c.name;
  document.title = `${c.name}'s memory · Afterdark`;
  document.getElementById("memory-title").textContent = `What ${c.name} remembers`;
  document.getElementById("back-name").textContent = c.name;
  document.getElementById("why-heading").textContent = `Why did ${characterName} say that?`;
  document.getElementById("add-text-label").textContent = `What should ${characterName} remember?`;
  document.getElementById("forget-label").textContent = `Forget everything with ${characterName}`;
  document.getElementById("forget-hint").textContent = `Deletes every summary, fact, note and remembered line `
    + `from your chats with ${characterName}. Memories shared with every character stay: delete those one by one.`;
}

(async () => {
  await requireUser();
  categoryOptions(document.getElementById("add-category"), "other");
  const loading = document.getElementById("memory-loading");
  try {
    await loadCharacter();
    await loadMemories();
  } catch (err) {
    loading.textContent = err.status === 404 ? "This character does not exist." : "Could not load the memories.";
    showError(err);
    return;
  }
  loading.hidden = true;
  document.getElementById("memory-body").hidden = false;
  await loadWhy().catch(showError);
})();
