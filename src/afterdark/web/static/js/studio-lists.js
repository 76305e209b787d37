// Small list editors of the Studio: tags as removable chips, alternate greetings as text boxes.
import { h } from "./ui.js";

const MAX_TAGS = 50;

/** Grow a textarea with its text (up to a cap set in CSS). */
export function autoGrow(area) {
  const fit = () => {
    area.style.height = "auto";
    area.style.height = `${area.scrollHeight + 2}px`;
  };
  area.addEventListener("input", fit);
  fit();
  return fit;
}

/** Tags typed into `input` (Enter or comma adds) and listed as chips in `list`. */
export function tagEditor({ list, input, onChange }) {
  let tags = [];

  function render() {
    list.replaceChildren(...tags.map((tag, i) => h("li", { class: "tag tag-edit", "data-testid": "studio-tag" },
      h("span", {}, tag),
      h("button", {
        type: "button", class: "tag-remove", icon: "close", "aria-label": `Remove tag ${tag}`,
        onclick: () => { tags.splice(i, 1); render(); onChange(); input.focus(); },
      }))));
  }

  function add(text) {
    let changed = false;
    for (const part of text.split(",")) {
      const tag = part.trim().slice(0, 50);
      if (!tag || tags.length >= MAX_TAGS) continue;
      if (tags.some((t) => t.toLowerCase() === tag.toLowerCase())) continue;
      tags.push(tag);
      changed = true;
    }
    if (changed) { render(); onChange(); }
  }

  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === ",") {
      e.preventDefault();
      add(input.value);
      input.value = "";
    } else if (e.key === "Backspace" && !input.value && tags.length) {
      tags.pop();
      render();
      onChange();
    }
  });
  input.addEventListener("input", () => {
    if (input.value.includes(",")) { add(input.value); input.value = ""; }
  });
  input.addEventListener("blur", () => { if (input.value.trim()) { add(input.value); input.value = ""; } });

  return {
    set(values) { tags = [...(values || [])]; render(); },
    // Text still in the box counts, so nothing typed is lost on save.
    value() {
      const pending = input.value.split(",").map((t) => t.trim()).filter(Boolean);
      const all = [...tags];
      for (const t of pending) if (!all.some((x) => x.toLowerCase() === t.toLowerCase())) all.push(t);
      return all.slice(0, MAX_TAGS);
    },
  };
}

/** Alternate greetings: a text box per greeting, with add and remove. */
export function greetingList({ list, addButton, onChange }) {
  let counter = 0;

  function renumber() {
    [...list.children].forEach((item, i) => {
      item.querySelector("label").textContent = `Alternate greeting ${i + 1}`;
      item.querySelector("button").setAttribute("aria-label", `Remove alternate greeting ${i + 1}`);
    });
  }

  function add(text = "", focus = false) {
    counter += 1;
    const inputId = `alt-greeting-${counter}`;
    const area = h("textarea", { id: inputId, rows: 3, "data-testid": "greeting-alt" });
    area.value = text;
    area.addEventListener("input", onChange);
    const item = h("li", { class: "greeting-item" },
      h("div", { class: "greeting-top" },
        h("label", { for: inputId }, "Greeting"),
        h("button", {
          type: "button", class: "icon-btn icon-btn-sm", icon: "trash", "data-testid": "greeting-remove",
          onclick: () => { item.remove(); renumber(); onChange(); addButton.focus(); },
        })),
      area);
    list.append(item);
    renumber();
    autoGrow(area);
    if (focus) area.focus();
  }

  addButton.addEventListener("click", () => { add("", true); onChange(); });

  return {
    set(values) { list.replaceChildren(); for (const v of values || []) add(v); },
    value() {
      return [...list.querySelectorAll("textarea")].map((a) => a.value).filter((v) => v.trim());
    },
  };
}
