// Pictures of a character. The chat page asks for them (the camera button, or a message
// starting with "/pic ") and shows each under the message it belongs to, live while it
// renders; the helpers that say a picture's state in words serve the gallery page too.
import { get, post, url } from "./api.js";
import { h, showError, toast } from "./ui.js";

const POLL_MS = 1000;
const ACTIVE = new Set(["queued", "rendering"]);

export const isActive = (p) => ACTIVE.has(p.status);

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * Whether pictures are on here, how to turn them on when not, and what the user can do with
 * the premium image model (asked once a page; `fresh` asks again, after a premium picture).
 */
let statusPromise = null;
export function imagesStatus(fresh = false) {
  if (fresh) statusPromise = null;
  if (!statusPromise) {
    statusPromise = get("/images/status").catch((err) => {
      statusPromise = null;
      throw err;
    });
  }
  return statusPromise;
}

/** What a premium picture costs this user, in words: "1 free", "40 Sparks", "with a plan". */
export function premiumPrice(premium) {
  if (premium.free_left > 0) return `${premium.free_left} free`;
  if (!premium.unlocked) return "comes with a plan";
  return premium.sparks ? `${premium.sparks} Sparks` : "included";
}

/**
 * The "Premium" choice for a new picture (off until ticked), or null where no premium image
 * model is set up. Its label says the price, or that the user's first one is free.
 */
export function premiumChoice(status) {
  const premium = status && status.premium;
  if (!premium || !premium.offered) return null;
  return h("label", { class: "check pic-premium-choice", "data-testid": "picture-premium" },
    h("input", { type: "checkbox", name: "premium", "data-testid": "picture-premium-toggle" }),
    "Premium image model ",
    h("span", { class: "hint", "data-testid": "picture-premium-price" }, `(${premiumPrice(premium)})`));
}

/** A "Premium" mark for a picture made with the premium model, else null. */
export function premiumMark(p) {
  if (!p.premium) return null;
  return h("span", { class: "badge pic-premium", "data-testid": "picture-premium-mark" },
    p.free_premium ? "Premium · free" : "Premium");
}

/** The request of a "/pic …" or "/picture …" message, or null for an ordinary message. */
export function pictureCommand(text) {
  const found = /^\/(?:pic|picture)(?:\s+([\s\S]*))?$/i.exec(text.trim());
  return found ? (found[1] || "").trim() : null;
}

/** Where a picture is, in words: "Rendering · try 1 · step 5 of 28". */
export function statusText(p) {
  const g = p.progress;
  switch (p.status) {
    case "queued":
      return "Queued · waiting for its turn";
    case "rendering": {
      const parts = ["Rendering", `try ${g ? g.try_number : 1}`];
      if (g && g.total) parts.push(`step ${g.step} of ${g.total}`);
      return parts.join(" · ");
    }
    case "done":
      return "Ready";
    case "cancelled":
      return "Cancelled";
    case "withheld":
      return p.error || "This picture was not kept.";
    default:
      return p.error || "The picture could not be made.";
  }
}

/** How close the face came to the reference, in words. */
export function identityText(p) {
  if (p.identity_passed === null || p.identity_passed === undefined) return "No reference face set";
  const parts = [p.identity_passed ? "Same face" : "Face differs from the reference"];
  if (typeof p.distance === "number") {
    let distance = `distance ${p.distance.toFixed(2)}`;
    if (p.tries > 1 && typeof p.first_distance === "number" && p.first_distance !== p.distance) {
      distance += ` (first try ${p.first_distance.toFixed(2)})`;
    }
    parts.push(distance);
  }
  if (p.tries) parts.push(plural(p.tries, "try", "tries"));
  return parts.join(" · ");
}

/** A picture the user cannot pay for gets the reason and the price list, as in the chat. */
export function pictureError(err) {
  if (err && err.status === 402) {
    const link = h("a", { href: url("/pricing"), "data-testid": "pricing-link" }, "See the prices");
    toast([err.message, " ", link], "error", 15000);
  } else {
    showError(err);
  }
}

/** A bar for a picture being made (no value, so "busy", until the backend counts steps). */
export function progressBar(p) {
  const g = p.progress;
  return h("progress", {
    class: "pic-progress", max: g && g.total ? g.total : null, value: g && g.total ? g.step : null,
    "aria-label": "Picture progress",
  });
}

/**
 * Follows pictures that are being made: asks for each about once a second and calls
 * `onUpdate(picture)` with every answer, `onGone(id)` when one was deleted meanwhile.
 */
export class PictureWatch {
  constructor(onUpdate, onGone = () => {}) {
    this.onUpdate = onUpdate;
    this.onGone = onGone;
    this.ids = new Set();
    this.timer = null;
  }

  follow(p) {
    if (isActive(p)) this.ids.add(p.id);
    else this.ids.delete(p.id);
    this.schedule();
  }

  forget(id) {
    this.ids.delete(id);
  }

  schedule() {
    if (this.timer !== null || !this.ids.size) return;
    this.timer = setTimeout(() => this.tick(), POLL_MS);
  }

  async tick() {
    await Promise.all([...this.ids].map(async (id) => {
      try {
        const fresh = await get(`/pictures/${id}`);
        if (!isActive(fresh)) this.ids.delete(id);
        if (this.ids.has(id) || !isActive(fresh)) this.onUpdate(fresh);
      } catch (err) {
        if (err.status === 404) {
          this.ids.delete(id);
          this.onGone(id);
        }
        // Anything else (a blip in the connection): try again on the next tick.
      }
    }));
    this.timer = null;
    this.schedule();
  }
}

// ---------- the chat page ----------

const chat = {
  conversationId: null,
  character: null,
  pictures: new Map(), // id -> picture, oldest first
  cards: new Map(), // id -> {el, shown}: kept across re-renders so images do not reload
  watch: null,
};

let scroller = null;

function nearBottom() {
  return scroller !== null && scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 160;
}

function card(id) {
  let entry = chat.cards.get(id);
  if (!entry) {
    const el = h("figure", { class: "pic-card", "data-testid": "chat-picture", "data-picture-id": id });
    entry = { el, shown: null };
    chat.cards.set(id, entry);
  }
  return entry;
}

/** Fill (or refresh) a picture's card; its frame only changes when its status does. */
function paint(p) {
  const entry = card(p.id);
  const el = entry.el;
  el.dataset.status = p.status;
  const status = el.querySelector(".pic-status");
  if (entry.shown === p.status && isActive(p) && status) {
    // Same frame, new step: touch only the words and the bar.
    status.textContent = statusText(p);
    el.querySelector(".pic-progress").replaceWith(progressBar(p));
    return;
  }
  const before = entry.shown;
  entry.shown = p.status;
  const who = chat.character ? chat.character.name : "them";
  const request = p.request || p.premium
    ? h("p", { class: "pic-request" }, p.request ? `“${p.request}” ` : null, premiumMark(p))
    : null;
  const statusLine = h("p", { class: "pic-status", "data-testid": "picture-status" }, statusText(p));
  const parts = [];
  if (p.status === "done" && p.url) {
    parts.push(h("a", { class: "pic-frame", href: url(p.url), target: "_blank", rel: "noopener" },
      h("img", {
        src: url(p.url), alt: `Picture of ${who}${p.request ? `: ${p.request}` : ""}`,
        width: p.width, height: p.height, decoding: "async", "data-testid": "picture-image",
      })));
  }
  const caption = h("figcaption", { class: "pic-caption" }, request);
  if (isActive(p)) {
    caption.append(statusLine, progressBar(p), h("div", { class: "pic-actions" },
      h("button", {
        type: "button", class: "btn btn-small", "data-testid": "picture-cancel",
        onclick: (e) => cancel(p, e.currentTarget),
      }, "Cancel")));
  } else if (p.status === "done") {
    caption.append(h("p", { class: "pic-identity", "data-testid": "picture-identity" }, identityText(p)));
  } else {
    statusLine.classList.add("pic-problem");
    caption.append(statusLine);
  }
  if (!isActive(p)) {
    caption.append(h("div", { class: "pic-actions" },
      h("button", {
        type: "button", class: "btn btn-small", "data-testid": "picture-again",
        onclick: (e) => again(p, e.currentTarget),
      }, h("span", { icon: "regenerate" }), "Another one"),
      h("a", { class: "btn btn-small", href: url(`/characters/${p.character_id}/gallery`) }, "All pictures")));
  }
  el.replaceChildren(...parts, caption);
  // Said once per change of state, not at every step.
  if (before !== null && before !== p.status) {
    announce(p.status === "done" ? `The picture is ready. ${identityText(p)}.` : `Picture: ${statusText(p)}.`);
  }
  const img = el.querySelector("img");
  if (img && before !== null && nearBottom()) {
    img.addEventListener("load", () => { scroller.scrollTop = scroller.scrollHeight; }, { once: true });
  }
}

function announce(text) {
  const live = document.getElementById("chat-announce");
  if (live) live.textContent = text;
}

function update(p) {
  chat.pictures.set(p.id, p);
  paint(p);
  placePictures();
}

/** Put every picture card under its message (after the message list re-renders). */
export function placePictures() {
  const list = document.getElementById("messages");
  const loose = document.getElementById("loose-pictures");
  if (!list || !loose) return;
  const unplaced = [];
  for (const p of chat.pictures.values()) {
    const { el } = card(p.id);
    const body = p.message_id === null ? null : list.querySelector(`[data-message-id="${p.message_id}"] .msg-body`);
    if (body) {
      // Under the message's words, above its buttons.
      if (el.parentElement !== body) body.insertBefore(el, body.querySelector(":scope > .msg-bar"));
    } else if (p.message_id === null) {
      unplaced.push(el);
    } else {
      el.remove(); // its message is on another branch of this chat
    }
  }
  loose.replaceChildren(...unplaced);
}

async function cancel(p, button) {
  button.disabled = true;
  try {
    update(await post(`/pictures/${p.id}/cancel`));
    chat.watch.follow(chat.pictures.get(p.id));
  } catch (err) {
    button.disabled = false;
    showError(err);
  }
}

function added(p) {
  chat.pictures.set(p.id, p);
  paint(p);
  placePictures();
  chat.watch.follow(p);
  card(p.id).el.scrollIntoView({ block: "nearest" });
}

async function again(p, button) {
  button.disabled = true;
  try {
    added(await post(`/pictures/${p.id}/regenerate`));
  } catch (err) {
    pictureError(err);
  } finally {
    button.disabled = false;
  }
}

async function ask(request, premium = false) {
  if (!chat.character) throw new Error("The chat is still loading. Try again in a moment.");
  added(await post(`/characters/${chat.character.id}/pictures`, {
    request, conversation_id: chat.conversationId, premium,
  }));
}

/** Ask for a picture in this chat; shows why not and rethrows when it cannot be made. */
export async function askPicture(request) {
  try {
    await ask(request);
  } catch (err) {
    pictureError(err);
    throw err;
  }
}

// ---------- the dialog ----------

const dialog = document.getElementById("picture-dialog");

async function openDialog() {
  if (!dialog || !chat.character) return;
  const form = dialog.querySelector("form");
  const off = document.getElementById("picture-off");
  const fields = document.getElementById("picture-fields");
  const submit = form.querySelector('[value="make"]');
  document.getElementById("picture-who").textContent = chat.character.name;
  document.getElementById("picture-gallery").href = url(`/characters/${chat.character.id}/gallery`);
  formErrorLine("");
  let status;
  try {
    status = await imagesStatus(true); // the free premium picture may have been used since
  } catch (err) {
    showError(err);
    return;
  }
  // The premium choice, fresh each time (its price changes once the free one is used).
  document.getElementById("picture-premium")?.remove();
  const choice = premiumChoice(status);
  if (choice) {
    choice.id = "picture-premium";
    document.getElementById("picture-tip").before(choice);
  }
  off.textContent = status.enabled ? "" : status.hint;
  off.hidden = status.enabled;
  fields.hidden = !status.enabled;
  submit.hidden = !status.enabled;
  form.querySelector('[value="cancel"]').textContent = status.enabled ? "Cancel" : "Close";
  dialog.showModal();
  if (status.enabled) form.elements.namedItem("request").focus();
}

function formErrorLine(text) {
  const line = document.getElementById("picture-error");
  line.textContent = text;
  line.hidden = !text;
}

function wireDialog() {
  const form = dialog.querySelector("form");
  form.addEventListener("submit", async (e) => {
    if (!e.submitter || e.submitter.value !== "make") return;
    e.preventDefault();
    const box = form.elements.namedItem("request");
    const premium = Boolean(form.elements.namedItem("premium")?.checked);
    e.submitter.disabled = true;
    try {
      await ask(box.value.trim(), premium);
      box.value = "";
      dialog.close();
    } catch (err) {
      formErrorLine(err.message || String(err));
      if (err.status === 402) pictureError(err); // with the way to the prices
    } finally {
      e.submitter.disabled = false;
    }
  });
  form.elements.namedItem("request").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.querySelector('[value="make"]').click();
    }
  });
  document.getElementById("open-picture").addEventListener("click", () => openDialog().catch(showError));
}

/** Start the chat's pictures: load what was asked for here, follow what is still rendering. */
export async function startChatPictures(conversationId, character) {
  chat.conversationId = conversationId;
  chat.character = character;
  scroller = document.getElementById("chat-scroll");
  if (!chat.watch) {
    chat.watch = new PictureWatch(update, (id) => {
      chat.pictures.delete(id);
      chat.cards.get(id)?.el.remove();
      chat.cards.delete(id);
    });
    if (dialog) wireDialog();
  }
  const found = await get(`/conversations/${conversationId}/pictures`);
  for (const p of found) {
    chat.pictures.set(p.id, p);
    paint(p);
    chat.watch.follow(p);
  }
  placePictures();
}
