// The Studio's lorebook editor. Each entry keeps the object it was loaded from and only the
// fields edited here are overwritten, so keys this editor does not know survive a save.
import { autoGrow } from "./studio-lists.js";
import { h } from "./ui.js";

const NEW_ENTRY = { keys: [], content: "", extensions: {}, enabled: true, insertion_order: 100 };

function parseKeys(text) {
  return text.split(",").map((k) => k.trim()).filter(Boolean);
}

let counter = 0;

function entryEditor(original, onChange, onRemove) {
  counter += 1;
  const uid = `lore-${counter}`;
  const orig = original ? structuredClone(original) : structuredClone(NEW_ENTRY);
  const shown = {
    keys: (orig.keys || []).join(", "),
    content: orig.content || "",
    enabled: orig.enabled !== false,
    constant: Boolean(orig.constant),
    order: String(orig.insertion_order ?? 100),
    comment: orig.comment || "",
  };
  const keys = h("input", { type: "text", id: `${uid}-keys`, autocomplete: "off", placeholder: "e.g. lighthouse, Skerra", "aria-describedby": `${uid}-keys-hint`, "data-testid": "lore-keys" });
  const content = h("textarea", { id: `${uid}-content`, rows: 3, "data-testid": "lore-content" });
  const enabled = h("input", { type: "checkbox", id: `${uid}-enabled`, "data-testid": "lore-enabled" });
  const constant = h("input", { type: "checkbox", id: `${uid}-constant`, "data-testid": "lore-constant" });
  const order = h("input", { type: "number", id: `${uid}-order`, step: "1", inputmode: "numeric", "aria-describedby": `${uid}-order-hint`, "data-testid": "lore-order" });
  const comment = h("input", { type: "text", id: `${uid}-comment`, autocomplete: "off", placeholder: "A note for you; not sent to the model", "data-testid": "lore-comment" });
  keys.value = shown.keys;
  content.value = shown.content;
  enabled.checked = shown.enabled;
  constant.checked = shown.constant;
  order.value = shown.order;
  comment.value = shown.comment;

  const title = h("span", { class: "lore-title" });
  const error = h("p", { class: "field-error", hidden: true, "data-testid": "lore-error" });
  const remove = h("button", { type: "button", class: "icon-btn icon-btn-sm", icon: "trash", "data-testid": "lore-remove" });
  const item = h("li", { class: "lore-entry", "data-testid": "lore-entry" },
    h("div", { class: "lore-head" }, title, remove),
    h("div", { class: "field" },
      h("label", { for: keys.id }, "Keys"),
      keys,
      h("p", { class: "hint", id: `${uid}-keys-hint` }, "Comma-separated words or phrases that bring this entry into the prompt.")),
    h("div", { class: "field" }, h("label", { for: content.id }, "Content"), content),
    h("div", { class: "grid-2" },
      h("div", { class: "field" },
        h("label", { for: order.id }, "Insertion order"),
        order,
        h("p", { class: "hint", id: `${uid}-order-hint` }, "Entries with lower numbers come first.")),
      h("div", { class: "field" }, h("label", { for: comment.id }, "Comment"), comment)),
    h("div", { class: "lore-checks" },
      h("label", { class: "check", for: enabled.id }, enabled, "Enabled"),
      h("label", { class: "check", for: constant.id }, constant, "Always include (constant)")),
    error);
  remove.addEventListener("click", () => onRemove(item));
  for (const el of [keys, content, enabled, constant, order, comment]) el.addEventListener("input", onChange);
  for (const el of [enabled, constant]) el.addEventListener("change", onChange);

  return {
    item,
    setNumber(n) {
      title.textContent = `Entry ${n}`;
      remove.setAttribute("aria-label", `Remove entry ${n}`);
    },
    showError(message) {
      error.textContent = message || "";
      error.hidden = !message;
    },
    fit() { autoGrow(content); },
    value() {
      const v = structuredClone(orig);
      if (keys.value !== shown.keys || !("keys" in orig)) v.keys = parseKeys(keys.value);
      if (content.value !== shown.content || !("content" in orig)) v.content = content.value;
      if (enabled.checked !== shown.enabled || !("enabled" in orig)) v.enabled = enabled.checked;
      if (constant.checked !== shown.constant) v.constant = constant.checked;
      if (order.value !== shown.order || !("insertion_order" in orig)) {
        const n = Number(order.value);
        v.insertion_order = order.value.trim() !== "" && Number.isFinite(n) ? Math.trunc(n) : 100;
      }
      if (comment.value !== shown.comment) v.comment = comment.value;
      return v;
    },
  };
}

/** The lorebook editor: `set(book)` loads a book (or null), `value()` gives the book to save. */
export function lorebookEditor({ list, empty, addButton, onChange }) {
  let book = null;
  let editors = [];

  function renumber() {
    editors.forEach((e, i) => e.setNumber(i + 1));
    empty.hidden = editors.length > 0;
  }

  function remove(item) {
    editors = editors.filter((e) => e.item !== item);
    item.remove();
    renumber();
    onChange();
    addButton.focus();
  }

  function add(entry) {
    const editor = entryEditor(entry, onChange, remove);
    editors.push(editor);
    list.append(editor.item);
    editor.fit();
    return editor;
  }

  addButton.addEventListener("click", () => {
    const editor = add(null);
    renumber();
    onChange();
    editor.item.querySelector("input[type=text]").focus();
  });

  return {
    set(value) {
      book = value ? structuredClone(value) : null;
      editors = [];
      list.replaceChildren();
      for (const entry of (book && Array.isArray(book.entries) ? book.entries : [])) add(entry);
      renumber();
    },
    value() {
      if (!book && !editors.length) return null;
      return { ...(book || { extensions: {} }), entries: editors.map((e) => e.value()) };
    },
    /** Show a server message ("Lorebook entry 3: …") on its entry; false when none matches. */
    showError(message) {
      for (const e of editors) e.showError("");
      const m = /^Lorebook entry (\d+)/.exec(message || "");
      const editor = m ? editors[Number(m[1]) - 1] : null;
      if (!editor) return false;
      editor.showError(message);
      editor.item.scrollIntoView({ block: "center" });
      return editor.item;
    },
    clearErrors() { for (const e of editors) e.showError(""); },
  };
}
