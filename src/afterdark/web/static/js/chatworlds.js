// The chat page's World books dialog: choose the user's world books for this one chat, and see
// which already apply another way (in every chat, or for this chat's character).
import { del, get, put } from "./api.js";
import { h } from "./ui.js";

const dialog = document.getElementById("worlds-dialog");
const list = document.getElementById("chat-world-list");
const loading = document.getElementById("chat-worlds-loading");
const empty = document.getElementById("chat-worlds-empty");
const stateLine = document.getElementById("chat-worlds-state");
const errorLine = document.getElementById("chat-worlds-error");

let opening = 0; // the latest opening; an older one's late answer is dropped

function report(text, problem = "") {
  stateLine.textContent = text || "";
  errorLine.textContent = problem || "";
  errorLine.hidden = !problem;
}

function entries(n) {
  return n === 1 ? "1 entry" : `${n} entries`;
}

/** How a book applies here besides this chat's own choice ("" when it does not). */
function otherWay(book, character) {
  if (book.enabled) return "On in every chat";
  if (character && (book.characters || []).includes(character.id)) return `On for ${character.name}`;
  return "";
}

function bookRow(initial, conversationId, character) {
  let book = initial;
  const note = h("span", { class: "hint chat-world-note", id: `chat-world-note-${book.id}`, "data-testid": "chat-world-note" });
  const box = h("input", {
    type: "checkbox", checked: (book.conversations || []).includes(conversationId),
    "aria-label": `Use in this chat: ${book.name}`, "aria-describedby": note.id, "data-testid": "chat-world-toggle",
  });
  const item = h("li", { class: "chat-world", "data-testid": "chat-world", "data-world-id": book.id },
    h("span", { class: "chat-world-body" },
      h("span", { class: "chat-world-name", "data-testid": "chat-world-name" }, book.name),
      h("span", { class: "hint" }, entries(book.entries)),
      note),
    h("label", { class: "check chat-world-check" }, box, h("span", {}, "This chat")));

  function show() {
    const text = otherWay(book, character);
    note.textContent = text;
    note.hidden = !text;
    item.classList.toggle("is-on", box.checked || Boolean(text));
  }

  box.addEventListener("change", async () => {
    const wanted = box.checked;
    const path = `/worldbooks/${book.id}/conversations/${conversationId}`;
    report("");
    box.disabled = true;
    try {
      book = await (wanted ? put(path) : del(path));
      box.checked = (book.conversations || []).includes(conversationId);
      const still = otherWay(book, character);
      if (wanted) report(`“${book.name}” joins this chat.`);
      else if (still) report(`“${book.name}” is no longer chosen for this chat. It still applies (${still}).`);
      else report(`“${book.name}” left this chat.`);
    } catch (err) {
      box.checked = !wanted;
      report("", err.message);
    } finally {
      box.disabled = false;
      show();
    }
  });

  show();
  return item;
}

/** Open the dialog for the chat `conversationId` with `character` ({id, name}). */
export async function openChatWorlds(conversationId, character) {
  const mine = ++opening;
  report("");
  list.replaceChildren();
  empty.hidden = true;
  loading.textContent = "Loading…";
  loading.hidden = false;
  dialog.showModal();
  let books;
  try {
    books = await get("/worldbooks");
  } catch (err) {
    if (mine !== opening) return;
    loading.textContent = "Could not load your world books.";
    report("", err.message);
    return;
  }
  if (mine !== opening) return;
  loading.hidden = true;
  list.replaceChildren(...books.map((book) => bookRow(book, conversationId, character)));
  empty.hidden = books.length > 0;
}
