import { del, get, requireUser } from "./api.js";
import { conversationItem } from "./convlist.js";
import { confirmAction, showError } from "./ui.js";

const list = document.getElementById("conversation-list");
const empty = document.getElementById("conversations-empty");

async function remove(c, item) {
  if (!(await confirmAction("Delete this chat and all its messages? This cannot be undone."))) return;
  try {
    await del(`/conversations/${c.id}`);
    item.remove();
    empty.hidden = list.children.length > 0;
  } catch (err) {
    showError(err);
  }
}

(async () => {
  await requireUser();
  try {
    const found = await get("/conversations");
    list.replaceChildren(...found.map((c) => conversationItem(c, { showCharacter: true, onDelete: remove })));
    empty.hidden = found.length > 0;
  } catch (err) {
    showError(err);
  } finally {
    list.setAttribute("aria-busy", "false");
  }
})();
