// The Export menu of a character (its page and the Studio): a card file per format and spec.
import { API } from "./api.js";
import { h } from "./ui.js";

// CharX is a V3 container; PNG and JSON cards come in every spec.
const FORMATS = [
  ["png", "PNG card", ["v2", "v3", "v1"]],
  ["json", "JSON", ["v2", "v3", "v1"]],
  ["charx", "CharX", ["v3"]],
];

export function exportUrl(id, format, spec) {
  return `${API}/characters/${id}/export?format=${format}&spec=${spec}`;
}

/** A disclosure button opening the list of downloads for character `id`. */
export function exportMenu(id) {
  const menu = h("details", { class: "menu", "data-testid": "export-menu" });
  const close = () => { menu.open = false; };
  const groups = FORMATS.map(([format, label, specs]) =>
    h("div", { class: "menu-group", role: "group", "aria-label": label },
      h("span", { class: "menu-label" }, label),
      h("span", { class: "menu-options" },
        specs.map((spec) => h("a", {
          class: "menu-item", href: exportUrl(id, format, spec), download: "",
          "data-testid": `export-${format}-${spec}`,
          "aria-label": `${label}, ${spec.toUpperCase()}`,
          onclick: close,
        }, spec.toUpperCase())))));
  menu.append(
    h("summary", { class: "btn", "data-testid": "export" }, h("span", { icon: "download" }), "Export"),
    h("div", { class: "menu-pop" },
      h("p", { class: "menu-hint muted" }, "V2 suits most apps; V3 keeps the most; V1 is the oldest format."),
      groups));
  const pop = menu.querySelector(".menu-pop");
  menu.addEventListener("toggle", () => {
    // Keep the panel inside the window: shift it left when it would overflow on the right.
    pop.style.left = "0px";
    if (!menu.open) return;
    const overflow = pop.getBoundingClientRect().right - (document.documentElement.clientWidth - 8);
    if (overflow > 0) pop.style.left = `${-overflow}px`;
  });
  document.addEventListener("click", (e) => { if (!menu.contains(e.target)) close(); });
  menu.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && menu.open) { close(); menu.querySelector("summary").focus(); }
  });
  return menu;
}
