// Small DOM helpers shared by every page: elements, icons, toasts, confirmations, text.

/** Create an element: h("button", {class: "btn", onclick: fn}, "Label", child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "icon") {
      setIcon(el, value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// Stroke icons on a 24-unit grid, drawn in currentColor.
const ICONS = {
  back: '<path d="M15 18l-6-6 6-6"/>',
  left: '<path d="M15 18l-6-6 6-6"/>',
  right: '<path d="M9 18l6-6-6-6"/>',
  send: '<path d="M4 12l16-8-6 16-3-7z"/><path d="M11 13l9-9"/>',
  stop: '<rect x="6" y="6" width="12" height="12" rx="2" fill="currentColor"/>',
  edit: '<path d="M4 20h4L19 9l-4-4L4 16z"/><path d="M13 7l4 4"/>',
  trash: '<path d="M4 7h16"/><path d="M9 7V4h6v3"/><path d="M6 7l1 13h10l1-13"/><path d="M10 11v6M14 11v6"/>',
  branch: '<circle cx="6" cy="5" r="2"/><circle cx="6" cy="19" r="2"/><circle cx="18" cy="7" r="2"/><path d="M6 7v10"/><path d="M18 9c0 5-6 4-11 8"/>',
  regenerate: '<path d="M20 12a8 8 0 1 1-2.4-5.7"/><path d="M20 4v5h-5"/>',
  continue: '<path d="M4 12h12"/><path d="M12 8l4 4-4 4"/><path d="M20 6v12"/>',
  scene: '<path d="M5 4h11a3 3 0 0 1 3 3v13H8a3 3 0 0 1-3-3z"/><path d="M5 17a3 3 0 0 1 3-3h11"/>',
  sliders: '<path d="M4 7h9M17 7h3M4 17h3M11 17h9"/><circle cx="15" cy="7" r="2"/><circle cx="9" cy="17" r="2"/>',
  wand: '<path d="M4 20L15 9"/><path d="M17 3v4M15 5h4M19 11v2M18 12h2M9 3v2M8 4h2"/>',
  close: '<path d="M6 6l12 12M18 6L6 18"/>',
  plus: '<path d="M12 5v14M5 12h14"/>',
  upload: '<path d="M12 16V4"/><path d="M7 9l5-5 5 5"/><path d="M4 16v3a1 1 0 0 0 1 1h14a1 1 0 0 0 1-1v-3"/>',
  download: '<path d="M12 4v12"/><path d="M7 11l5 5 5-5"/><path d="M4 16v3a1 1 0 0 0 1 1h14a1 1 0 0 0 1-1v-3"/>',
  copy: '<rect x="8" y="8" width="12" height="12" rx="2"/><path d="M16 8V5a1 1 0 0 0-1-1H5a1 1 0 0 0-1 1v10a1 1 0 0 0 1 1h3"/>',
  chat: '<path d="M5 5h14a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H10l-5 4v-4H5a1 1 0 0 1-1-1V6a1 1 0 0 1 1-1z"/>',
  restore: '<path d="M4 12a8 8 0 1 0 2.4-5.7"/><path d="M4 4v5h5"/><path d="M12 8v4l3 2"/>',
  book: '<path d="M12 6c-2-1.5-5-2-8-2v14c3 0 6 .5 8 2 2-1.5 5-2 8-2V4c-3 0-6 .5-8 2z"/><path d="M12 6v14"/>',
  camera: '<path d="M4 8h3l2-3h6l2 3h3a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V9a1 1 0 0 1 1-1z"/><circle cx="12" cy="13.5" r="3.5"/>',
  image: '<rect x="3" y="4" width="18" height="16" rx="2"/><circle cx="9" cy="10" r="2"/><path d="M21 16l-5-5-9 9"/>',
  people: '<circle cx="9" cy="8" r="3"/><path d="M3 20c0-3.3 2.7-6 6-6s6 2.7 6 6"/><path d="M16 5.3a3 3 0 0 1 0 5.4"/><path d="M18 14.5c1.8.8 3 2.8 3 5.5"/>',
  speaker: '<path d="M4 9h4l5-4v14l-5-4H4z"/><path d="M16.5 8.5a5 5 0 0 1 0 7"/><path d="M19 6a8.5 8.5 0 0 1 0 12"/>',
  mic: '<rect x="9" y="3" width="6" height="11" rx="3"/><path d="M5 11a7 7 0 0 0 14 0"/><path d="M12 18v3"/>',
};

export function iconSvg(name) {
  const body = ICONS[name] || "";
  return `<svg class="icon" viewBox="0 0 24 24" width="20" height="20" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">${body}</svg>`;
}

export function setIcon(el, name) {
  // ICONS holds fixed markup of our own; nothing from users passes through here.
  el.innerHTML = iconSvg(name);
}

/** Fill every [data-icon] element under `root` with its icon. */
export function applyIcons(root = document) {
  for (const el of root.querySelectorAll("[data-icon]")) setIcon(el, el.dataset.icon);
}

export function toast(message, kind = "error", ms = 6000) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const item = h("div", { class: `toast toast-${kind}`, "data-testid": `toast-${kind}` }, message);
  const close = h("button", {
    type: "button", class: "toast-close", "aria-label": "Dismiss", icon: "close",
    onclick: () => item.remove(),
  });
  item.append(close);
  box.append(item);
  if (ms) setTimeout(() => item.remove(), ms);
}

/** Show an error from the API (or anything thrown) to the person. */
export function showError(err) {
  if (err && err.name === "AbortError") return;
  const text = err && err.message ? err.message : String(err);
  toast(text, "error");
  if (!(err && err.status)) console.error(err);
}

/** Ask before a destructive action; resolves to true when confirmed. */
export function confirmAction(text, okLabel = "Delete") {
  const dialog = document.getElementById("confirm-dialog");
  if (!dialog || typeof dialog.showModal !== "function") return Promise.resolve(window.confirm(text));
  dialog.querySelector("#confirm-text").textContent = text;
  dialog.querySelector('[value="ok"]').textContent = okLabel;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

/**
 * Show {{char}} and {{user}} (and the legacy <BOT>/<USER>) as names. The server expands every
 * macro in the prompt; this covers text shown as stored, such as a card's greeting.
 */
export function fillNames(text, { char = "", user = "" } = {}) {
  return String(text || "").replace(/\{\{\s*(char|user)\s*\}\}|<(bot|user)>/gi, (whole, a, b) => {
    const key = (a || b).toLowerCase();
    const name = key === "user" ? user : char;
    return name || whole;
  });
}

/**
 * Put `text` into `container` safely (text nodes only), styling *action* spans as italics.
 * Line breaks are kept by CSS (white-space: pre-wrap).
 */
export function renderRichText(container, text) {
  container.replaceChildren();
  const parts = String(text || "").split(/(\*[^*\n]+\*)/g);
  for (const part of parts) {
    if (!part) continue;
    if (part.length > 2 && part.startsWith("*") && part.endsWith("*")) {
      container.append(h("em", { class: "action" }, part.slice(1, -1)));
    } else {
      container.append(document.createTextNode(part));
    }
  }
}

/** An avatar: the image when there is one, else the first letter on a tinted disc. */
export function fillAvatar(el, name, avatarUrl) {
  el.replaceChildren();
  el.classList.add("avatar");
  const letter = (name || "?").trim().charAt(0).toUpperCase() || "?";
  let hue = 0;
  for (const ch of name || "") hue = (hue * 31 + ch.charCodeAt(0)) % 360;
  el.style.setProperty("--avatar-hue", String(hue));
  if (avatarUrl) {
    const img = h("img", { src: avatarUrl, alt: "", loading: "lazy", decoding: "async" });
    img.addEventListener("error", () => img.replaceWith(document.createTextNode(letter)));
    el.append(img);
  } else {
    el.append(letter);
  }
  return el;
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** "5 minutes ago" for recent times, a date otherwise. */
export function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const seconds = Math.round((date.getTime() - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 60) return relative.format(seconds, "second");
  if (abs < 3600) return relative.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return relative.format(Math.round(seconds / 3600), "hour");
  if (abs < 7 * 86400) return relative.format(Math.round(seconds / 86400), "day");
  return absolute.format(date);
}

export function timeEl(iso) {
  return h("time", { datetime: iso || "", title: iso ? absolute.format(new Date(iso)) : "" }, formatTime(iso));
}

/** Show or clear a form's inline error line. */
export function formError(form, message) {
  const box = form.querySelector(".form-error");
  if (!box) return;
  box.textContent = message || "";
  box.hidden = !message;
}

/** Disable a button while `work` runs; returns work's result. */
export async function busy(button, work) {
  const was = button.disabled;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    button.disabled = was;
    button.removeAttribute("aria-busy");
  }
}

/** `fn` called once `ms` after the last of a burst of calls. */
export function debounce(fn, ms) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}

/** Page id from the server-rendered body (e.g. the character or conversation id). */
export function pageObjectId() {
  const raw = document.body.dataset.objectId;
  return raw ? Number.parseInt(raw, 10) : null;
}

applyIcons();
