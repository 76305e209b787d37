// One row of a conversation list (the chats page and a character's page).
import { url } from "./api.js";
import { fillAvatar, h, timeEl } from "./ui.js";

/** A link to the chat, with its title, a preview when the API gives one, and its last update. */
export function conversationItem(c, { showCharacter = false, onDelete = null } = {}) {
  const name = c.character?.name || "";
  const title = (c.title || "").replace(/\*/g, "").trim()
    || (showCharacter && name ? `Chat with ${name}` : `Chat #${c.id}`);
  const preview = c.last_message?.content ?? c.preview ?? c.last_message_preview ?? "";
  const link = h("a", { class: "conv-link", href: url(`/chat/${c.id}`), "data-testid": "conversation-link", "data-conversation-id": c.id },
    showCharacter && c.character
      ? fillAvatar(h("span", { class: "avatar avatar-sm", "aria-hidden": "true" }), name, c.character.avatar_url)
      : null,
    h("span", { class: "conv-body" },
      h("span", { class: "conv-title" }, title),
      preview ? h("span", { class: "conv-preview muted" }, typeof preview === "string" ? preview : "") : null,
      h("span", { class: "conv-time muted" },
        showCharacter && name ? `${name} · ` : "", timeEl(c.updated_at || c.created_at))));
  const item = h("li", { class: "conv-item", "data-testid": "conversation-item" }, link);
  if (onDelete) {
    item.append(h("button", {
      type: "button", class: "icon-btn", icon: "trash", "aria-label": `Delete ${title}`,
      "data-testid": "conversation-delete", onclick: () => onDelete(c, item),
    }));
  }
  return item;
}
