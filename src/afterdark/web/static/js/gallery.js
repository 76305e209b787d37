// A character's pictures: the reference face every render is held to, a new picture, and
// the user's pictures of the character, newest first, each with what can be done with it.
import { del, get, post, put, requireUser, upload, url } from "./api.js";
import {
  PictureWatch, identityText, imagesStatus, isActive, pictureError, premiumChoice, premiumMark,
  progressBar, statusText,
} from "./chatpictures.js";
import { busy, confirmAction, formError, h, pageObjectId, showError, timeEl, toast } from "./ui.js";

const characterId = pageObjectId();
const PAGE = 60;

const stateLine = document.getElementById("gallery-state");
const grid = document.getElementById("picture-grid");
const empty = document.getElementById("pictures-empty");
const more = document.getElementById("pictures-more");
const referenceForm = document.getElementById("reference-form");
const newForm = document.getElementById("new-form");

const state = {
  character: null,
  enabled: false,
  reference: null,
  items: new Map(), // picture id -> {li, picture, shown}
  offset: 0,
};

/** Say how an action went, for people and for screen readers. */
function report(text) {
  stateLine.textContent = text || "";
}

function slug(text) {
  return String(text || "picture").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "picture";
}

// ---------- the reference face ----------

const ATTESTED = {
  fictional: "marked as no real person",
  consent: "marked as a real adult who agreed",
};

function referenceSource(face) {
  if (face.source === "upload") {
    return ["Uploaded by you", ATTESTED[face.attestation]].filter(Boolean).join(" · ");
  }
  return face.picture_id ? `From your picture #${face.picture_id}` : "From one of your pictures";
}

function renderReference() {
  const face = state.reference;
  document.getElementById("reference-current").hidden = !face;
  document.getElementById("reference-none").hidden = Boolean(face);
  if (face) {
    document.getElementById("reference-image").src = url(face.url);
    document.getElementById("reference-source").textContent = referenceSource(face);
    document.getElementById("reference-when").replaceChildren("Set ", timeEl(face.updated_at));
  }
  for (const { li, picture } of state.items.values()) {
    const mark = li.querySelector(".picture-is-reference");
    if (mark) mark.hidden = !(face && face.picture_id === picture.id);
  }
}

async function loadReference() {
  try {
    state.reference = await get(`/characters/${characterId}/reference`);
  } catch (err) {
    if (err.status !== 404) throw err;
    state.reference = null;
  }
  renderReference();
}

document.getElementById("reference-remove").addEventListener("click", async (e) => {
  const button = e.currentTarget;
  const ok = await confirmAction(
    "Remove the reference face? New pictures will no longer be checked against it.", "Remove");
  if (!ok) return;
  try {
    await busy(button, () => del(`/characters/${characterId}/reference`));
    state.reference = null;
    renderReference();
    report("The reference face was removed.");
  } catch (err) {
    showError(err);
  }
});

referenceForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  formError(referenceForm, "");
  const file = referenceForm.elements.namedItem("image").files[0];
  if (!file) {
    formError(referenceForm, "Choose a picture with a face first.");
    return;
  }
  const said = referenceForm.querySelector('input[name="likeness"]:checked');
  const fields = said ? { image: file, likeness: said.value } : { image: file };
  report(`Uploading ${file.name}…`);
  try {
    state.reference = await busy(e.submitter || referenceForm.querySelector('[type="submit"]'),
      () => upload("POST", `/characters/${characterId}/reference`, fields));
    referenceForm.reset();
    renderReference();
    report("The reference face is set. New pictures will be checked against it.");
  } catch (err) {
    report("");
    // Said beside the choice it asks for, not in a passing toast.
    formError(referenceForm, err.message);
    if (err.code === "likeness_attestation_required") {
      referenceForm.querySelector('input[name="likeness"]').focus();
    }
  }
});

// ---------- one picture ----------

function actionButton(label, testid, onclick, icon = null, extra = "") {
  return h("button", { type: "button", class: `btn btn-small ${extra}`.trim(), "data-testid": testid, onclick },
    icon ? h("span", { icon }) : null, label);
}

function pictureActions(p) {
  const box = h("div", { class: "picture-actions" });
  if (isActive(p)) {
    box.append(actionButton("Cancel", "picture-cancel", (e) => cancel(p, e.currentTarget)));
    return box;
  }
  if (p.status === "done" && p.url) {
    const name = `${slug(state.character?.name)}-picture-${p.id}`;
    box.append(
      h("a", { class: "btn btn-small", href: url(p.url), target: "_blank", rel: "noopener", "data-testid": "picture-view" },
        h("span", { icon: "image" }), "View"),
      h("a", { class: "btn btn-small", href: url(p.url), download: name, "data-testid": "picture-download" },
        h("span", { icon: "download" }), "Download"),
      actionButton("Use as reference face", "picture-use-reference", (e) => useAsReference(p, e.currentTarget)));
    if (state.character?.is_own) {
      box.append(actionButton("Set as portrait", "picture-portrait", (e) => setPortrait(p, e.currentTarget)));
    }
  }
  if (state.enabled) {
    box.append(actionButton(p.status === "done" ? "Another one" : "Try again", "picture-regenerate",
      (e) => regenerate(p, e.currentTarget), "regenerate"));
  }
  box.append(actionButton("Delete", "picture-delete", (e) => remove(p, e.currentTarget), "trash", "btn-quiet-danger"));
  return box;
}

function thumb(p) {
  if (p.status === "done" && p.url) {
    return h("a", { class: "picture-thumb", href: url(p.url), target: "_blank", rel: "noopener", tabindex: "-1", "aria-hidden": "true" },
      h("img", { src: url(p.url), alt: "", loading: "lazy", decoding: "async", width: p.width, height: p.height }));
  }
  return h("div", { class: `picture-thumb picture-thumb-empty${isActive(p) ? " is-busy" : ""}`, "aria-hidden": "true" },
    h("span", { icon: isActive(p) ? "camera" : "image" }));
}

function fill(entry) {
  const p = entry.picture;
  const li = entry.li;
  li.dataset.status = p.status;
  const status = li.querySelector(".pic-status");
  if (entry.shown === p.status && isActive(p) && status) {
    status.textContent = statusText(p);
    li.querySelector(".pic-progress").replaceWith(progressBar(p));
    return;
  }
  entry.shown = p.status;
  const info = h("div", { class: "picture-info" },
    h("p", { class: "picture-request", "data-testid": "picture-request-text" },
      p.request ? `“${p.request}”` : "A picture of the moment"),
    h("p", { class: `pic-status${["failed", "withheld"].includes(p.status) ? " pic-problem" : ""}`, "data-testid": "picture-status" },
      statusText(p)));
  if (isActive(p)) info.append(progressBar(p));
  if (p.status === "done") {
    info.append(h("p", { class: "pic-identity", "data-testid": "picture-identity" }, identityText(p)));
  }
  const face = state.reference;
  info.append(
    h("p", { class: "hint picture-meta" },
      timeEl(p.created_at),
      p.conversation_id ? [" · ", h("a", { href: url(`/chat/${p.conversation_id}`) }, "in a chat")] : null,
      " ",
      premiumMark(p),
      " ",
      h("span", { class: "badge badge-current picture-is-reference", hidden: !(face && face.picture_id === p.id), "data-testid": "picture-is-reference" },
        "Reference face")),
    pictureActions(p));
  li.replaceChildren(thumb(p), info);
}

function itemFor(p) {
  let entry = state.items.get(p.id);
  if (!entry) {
    const li = h("li", { class: "picture-item", "data-testid": "gallery-picture", "data-picture-id": p.id });
    entry = { li, picture: p, shown: null };
    state.items.set(p.id, entry);
  }
  const was = entry.shown;
  entry.picture = p;
  fill(entry);
  if (was && was !== p.status) {
    report(p.status === "done" ? `A picture is ready. ${identityText(p)}.` : `A picture: ${statusText(p)}.`);
  }
  return entry.li;
}

function showEmpty() {
  empty.hidden = state.items.size > 0;
}

const watch = new PictureWatch((p) => itemFor(p), (id) => forget(id));

function forget(id) {
  state.items.get(id)?.li.remove();
  state.items.delete(id);
  watch.forget(id);
  showEmpty();
}

function added(p) {
  grid.prepend(itemFor(p));
  watch.follow(p);
  showEmpty();
}

async function cancel(p, button) {
  button.disabled = true;
  try {
    itemFor(await post(`/pictures/${p.id}/cancel`));
    watch.follow(state.items.get(p.id).picture);
  } catch (err) {
    button.disabled = false;
    showError(err);
  }
}

async function regenerate(p, button) {
  try {
    // The same model as the picture had: a premium one is made with the premium model again.
    added(await busy(button, () => post(`/pictures/${p.id}/regenerate`)));
    report("A new picture is on its way.");
    if (p.premium) showPremiumChoice(true).catch(showError);
  } catch (err) {
    pictureError(err);
  }
}

/** The new-picture form's "Premium" choice, with what it costs now (none: not offered). */
async function showPremiumChoice(fresh = false) {
  const status = await imagesStatus(fresh);
  const was = newForm.querySelector(".pic-premium-choice");
  const choice = premiumChoice(status);
  if (choice && was) choice.querySelector("input").checked = was.querySelector("input").checked;
  was?.remove();
  if (choice) newForm.querySelector(".form-error").before(choice);
}

async function useAsReference(p, button) {
  try {
    state.reference = await busy(button, () => put(`/characters/${characterId}/reference`, { picture_id: p.id }));
    renderReference();
    report("This picture is now the reference face.");
  } catch (err) {
    showError(err);
  }
}

async function setPortrait(p, button) {
  try {
    await busy(button, () => post(`/pictures/${p.id}/portrait`));
    report("This picture is now the character’s portrait.");
    toast("Portrait updated.", "ok", 3000);
  } catch (err) {
    showError(err);
  }
}

async function remove(p, button) {
  if (!(await confirmAction("Delete this picture? This cannot be undone."))) return;
  try {
    await busy(button, () => del(`/pictures/${p.id}`));
    forget(p.id);
    report("The picture was deleted.");
  } catch (err) {
    showError(err);
  }
}

// ---------- loading ----------

async function loadPictures() {
  const found = await get(`/characters/${characterId}/pictures?limit=${PAGE}&offset=${state.offset}`);
  state.offset += found.length;
  for (const p of found) {
    if (state.items.has(p.id)) continue;
    grid.append(itemFor(p));
    watch.follow(p);
  }
  more.hidden = found.length < PAGE;
  showEmpty();
}

more.addEventListener("click", () => busy(more, loadPictures).catch(showError));

newForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  formError(newForm, "");
  const box = newForm.elements.namedItem("request");
  const premium = Boolean(newForm.elements.namedItem("premium")?.checked);
  try {
    const p = await busy(e.submitter || newForm.querySelector('[type="submit"]'),
      () => post(`/characters/${characterId}/pictures`, { request: box.value.trim(), premium }));
    box.value = "";
    added(p);
    report("A new picture is on its way.");
    if (premium) showPremiumChoice(true).catch(showError);
  } catch (err) {
    formError(newForm, err.message);
    if (err.status === 402) pictureError(err);
  }
});

(async () => {
  await requireUser();
  const loading = document.getElementById("gallery-loading");
  let status;
  try {
    [state.character, status] = await Promise.all([get(`/characters/${characterId}`), imagesStatus()]);
  } catch (err) {
    loading.textContent = err.status === 404 ? err.message : "Could not load the pictures.";
    if (err.status !== 404) showError(err);
    return;
  }
  const name = state.character.name;
  document.title = `Pictures of ${name} · Afterdark`;
  document.getElementById("gallery-title").textContent = `Pictures of ${name}`;
  document.getElementById("back-name").textContent = name;
  state.enabled = status.enabled;
  document.getElementById("gallery-off").hidden = status.enabled;
  document.getElementById("gallery-off-hint").textContent = status.hint;
  document.getElementById("new-panel").hidden = !status.enabled;
  if (status.enabled) await showPremiumChoice();
  try {
    await Promise.all([loadReference(), loadPictures()]);
  } catch (err) {
    showError(err);
  }
  loading.hidden = true;
  document.getElementById("gallery-body").hidden = false;
})();
