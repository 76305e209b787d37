// The Studio's version history: every save, newest first, each but the current restorable.
import { get } from "./api.js";
import { h, timeEl } from "./ui.js";

/** Fill `list` with the versions of character `id`; `onRestore(number)` when one is chosen. */
export async function showHistory(list, id, { name, canRestore, onRestore }) {
  const versions = await get(`/characters/${id}/versions`);
  // The newest saved version is what the form holds (a new picture bumps the character's
  // number without saving a version, so the numbers need not match).
  list.replaceChildren(...versions.map((v, index) => {
    const isCurrent = index === 0;
    return h("li", { class: "version-item", "data-testid": "version-item", "data-version": v.number },
      h("span", { class: "version-body" },
        h("span", { class: "version-title" },
          `Version ${v.number}`,
          isCurrent ? h("span", { class: "badge" }, "Current") : null),
        h("span", { class: "version-meta muted" },
          v.note ? `${v.note} · ` : "", v.name && v.name !== name ? `as “${v.name}” · ` : "", timeEl(v.created_at))),
      canRestore && !isCurrent
        ? h("button", {
          type: "button", class: "btn btn-small", "data-testid": "version-restore",
          "aria-label": `Restore version ${v.number}`, onclick: () => onRestore(v.number),
        }, h("span", { icon: "restore" }), "Restore")
        : null);
  }));
  return versions;
}
