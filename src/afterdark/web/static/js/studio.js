// The Studio: create and edit a character, with a live prompt preview and version history.
import { get, patch, post, requireUser, upload, url } from "./api.js";
import { exportMenu } from "./exportmenu.js";
import { showHistory } from "./studio-history.js";
import { autoGrow, greetingList, tagEditor } from "./studio-lists.js";
import { lorebookEditor } from "./studio-lorebook.js";
import { lorebookFiles } from "./studio-lorefile.js";
import { promptPreview } from "./studio-preview.js";
import { voiceSlot } from "./studio-voice.js";
import { busy, confirmAction, fillAvatar, pageObjectId, showError, toast } from "./ui.js";

const MIN_AGE = 18;
const MAX_AGE = 100000;
const TRIMMED = new Set(["name", "nickname", "tagline", "creator", "character_version"]);
const FLASH = "afterdark-studio-flash";

const id = pageObjectId();

// The reference face lives with the character's pictures, once the character exists.
if (id) {
  const faceLink = document.getElementById("studio-face-link");
  faceLink.href = url(`/characters/${id}/gallery`);
  faceLink.hidden = false;
  document.getElementById("studio-face-new").hidden = true;
}
const $ = (elementId) => document.getElementById(elementId);
const form = $("studio-form");
const fieldset = $("studio-fields");
const nameInput = $("f-name");
const ageInput = $("f-age");
const taglineInput = $("f-tagline");
const noteInput = $("f-note");
const saveButton = $("studio-save");
const formErrorBox = $("form-error");

let character = null; // as last loaded or saved
let saved = null; // the draft of the saved state, to find what changed
let readOnly = false;
let leaving = false;
let stagedPicture = null; // chosen before the first save; uploaded right after it
const touched = new Set();

const textFields = [...form.querySelectorAll("[data-field]")];
const fits = textFields.filter((el) => el.tagName === "TEXTAREA").map(autoGrow);
const tags = tagEditor({ list: $("tag-list"), input: $("f-tags"), onChange: changed });
const greetings = greetingList({ list: $("greeting-list"), addButton: $("greeting-add"), onChange: changed });
const lorebook = lorebookEditor({ list: $("lore-list"), empty: $("lore-empty"), addButton: $("lore-add"), onChange: changed });
const preview = promptPreview({ draft: previewDraft });
const loreFiles = lorebookFiles({
  importMenu: $("lore-import"), exportMenu: $("lore-export"), input: $("lore-file-input"),
  hint: $("lore-file-hint"), state: $("lore-file-state"), error: $("lore-file-error"), floor: $("save-bar"),
  prepare: saveBeforeImport, onImported: imported,
});
nameInput.required = true;

// ---------- the draft ----------

function parseAge(text) {
  const t = String(text).trim();
  return /^\d+$/.test(t) ? Number(t) : null;
}

/** Every editable field as the API takes it. */
function draft() {
  const d = {};
  for (const el of textFields) {
    const key = el.dataset.field;
    d[key] = TRIMMED.has(key) ? el.value.trim() : el.value;
  }
  d.age = parseAge(ageInput.value);
  d.tags = tags.value();
  d.alternate_greetings = greetings.value();
  d.book = lorebook.value();
  return d;
}

function previewDraft() {
  const d = draft();
  if (d.age !== null && (d.age < MIN_AGE || d.age > MAX_AGE)) d.age = null;
  return d;
}

function changes() {
  const now = draft();
  const diff = {};
  for (const [key, value] of Object.entries(now)) {
    if (JSON.stringify(value) !== JSON.stringify(saved[key])) diff[key] = value;
  }
  return diff;
}

function isDirty() {
  if (readOnly || !saved) return false;
  return Object.keys(changes()).length > 0 || (!id && stagedPicture !== null);
}

function fill(c) {
  for (const el of textFields) el.value = c[el.dataset.field] ?? "";
  ageInput.value = c.age ?? "";
  tags.set(c.tags || []);
  greetings.set(c.alternate_greetings || []);
  lorebook.set(c.book || null);
  for (const fit of fits) fit();
  updateCounter();
}

// ---------- state shown around the form ----------

function updateState() {
  const state = $("save-state");
  if (readOnly) state.textContent = "";
  else if (!id) state.textContent = isDirty() ? "Not saved yet" : "";
  else state.textContent = isDirty() ? "Unsaved changes" : "All changes saved";
  state.classList.toggle("is-dirty", isDirty());
}

function updateCounter() {
  $("tagline-count").textContent = `${taglineInput.value.length}/300`;
}

function changed() {
  updateState();
  preview.schedule();
}

function renderHeader(c) {
  document.title = `${c.name} · Studio · Afterdark`;
  $("studio-title").textContent = c.name;
  const source = c.source ? ` · imported ${c.source.toUpperCase()}` : "";
  $("studio-version").textContent = `Version ${c.version}${source}`;
  const view = $("studio-view");
  view.href = url(`/characters/${c.id}`);
  view.hidden = false;
  $("studio-duplicate").hidden = false;
  $("studio-chat").disabled = false;
  $("export-slot").replaceChildren(exportMenu(c.id));
}

function showPicture(src) {
  fillAvatar($("picture-preview"), nameInput.value || "?", src);
}

// ---------- validation ----------

function setFieldError(key, message) {
  const box = $(`err-${key}`);
  const input = $(`f-${key}`);
  if (box) {
    box.textContent = message || "";
    box.hidden = !message;
  }
  if (input) {
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }
  return box;
}

function clearErrors() {
  for (const box of form.querySelectorAll(".field-error")) { box.textContent = ""; box.hidden = true; }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  lorebook.clearErrors();
  formErrorBox.hidden = true;
  delete formErrorBox.dataset.client;
}

function problems() {
  const found = {};
  if (!nameInput.value.trim()) found.name = "Give the character a name.";
  const raw = ageInput.value.trim();
  if (ageInput.validity.badInput || (raw && !/^\d+$/.test(raw))) {
    found.age = "Enter the age as a whole number of years.";
  } else if (!raw) {
    found.age = "Set an age. Every character is an adult: 18 or older.";
  } else if (Number(raw) < MIN_AGE) {
    found.age = `Characters must be adults: the age must be ${MIN_AGE} or older.`;
  } else if (Number(raw) > MAX_AGE) {
    found.age = `The age must be a number of years up to ${MAX_AGE}.`;
  }
  return found;
}

/** Show client-side problems for `keys` (all when null); true when there are none. */
function check(keys = null) {
  const found = problems();
  for (const key of ["name", "age"]) {
    if (keys && !keys.includes(key)) continue;
    setFieldError(key, found[key] || "");
  }
  const ok = Object.keys(found).length === 0;
  if (ok && formErrorBox.dataset.client) {
    formErrorBox.hidden = true;
    delete formErrorBox.dataset.client;
  }
  return ok;
}

for (const [input, key] of [[nameInput, "name"], [ageInput, "age"]]) {
  input.addEventListener("blur", () => { if (input.value.trim() || touched.has(key)) { touched.add(key); check([key]); } });
  input.addEventListener("input", () => { if (touched.has(key)) check([key]); });
}

/** Put a server refusal next to the field it is about (and above the Save button). */
function showServerError(err) {
  const message = err && err.message ? err.message : String(err);
  const marked = [];
  const mark = (key, text) => {
    if (!$(`err-${key}`)) return;
    setFieldError(key, text);
    marked.push(key);
  };
  if (err && err.code === "underage_character") {
    // "The card states that X is 16 ('16 years old')": point at the text that says so.
    const quote = /\((['"])(.+?)\1\)/.exec(message);
    const holder = quote && textFields.find((el) => el.value.includes(quote[2]));
    mark(holder ? holder.dataset.field : "age", message);
  } else if (/^Set .+ age/.test(message)) {
    mark("age", message);
  } else if (/^Give the character a name/.test(message)) {
    mark("name", message);
  } else if (/^Lorebook/.test(message)) {
    if (!lorebook.showError(message)) mark("book", message);
  } else if (err && err.code === "invalid_input") {
    // "tagline: String should have at most 300 characters; age: …"
    for (const part of message.split("; ")) {
      const m = /^([a-z_]+)(?:\.\d+)*: (.+)$/.exec(part);
      if (m) mark(m[1], m[2]);
    }
  }
  if (marked.length) $(`f-${marked[0]}`)?.focus();
  formErrorBox.textContent = `Not saved: ${message}`;
  formErrorBox.hidden = false;
}

// ---------- loading and saving ----------

async function refreshHistory() {
  if (!id) return;
  $("sec-history").hidden = false;
  $("nav-history").hidden = false;
  await showHistory($("version-list"), id, {
    name: character.name, canRestore: character.is_own, onRestore: restore,
  });
}

function load(c) {
  character = c;
  readOnly = !c.is_own;
  fieldset.disabled = readOnly;
  $("save-bar").hidden = readOnly;
  $("readonly-notice").hidden = !readOnly;
  fill(c);
  saved = draft();
  renderHeader(c);
  loreFiles.set(c);
  showPicture(c.avatar_url);
  $("picture-state").textContent = "";
  if (!readOnly && c.age === null) {
    setFieldError("age", "This card states no age. Set one (18 or older) to save your changes.");
  }
  updateState();
}

/** The upload's form: the picture, and what the user said about a face in it. */
function pictureFields(file) {
  const said = document.querySelector('input[name="likeness"]:checked');
  return said ? { image: file, likeness: said.value } : { image: file };
}

async function create(d) {
  const body = {};
  for (const [key, value] of Object.entries(d)) {
    if (key === "name" || key === "age" || (Array.isArray(value) ? value.length : value)) body[key] = value;
  }
  const c = await post("/characters", body);
  let flash = { kind: "ok", text: `${c.name} is saved as version 1.` };
  if (stagedPicture) {
    try {
      await upload("PUT", `/characters/${c.id}/avatar`, pictureFields(stagedPicture));
    } catch (err) {
      flash = { kind: "error", text: `${c.name} is saved, but the picture was refused: ${err.message}` };
    }
  }
  sessionStorage.setItem(FLASH, JSON.stringify(flash));
  leaving = true;
  window.location.assign(url(`/studio/${c.id}`));
  return true;
}

async function update() {
  const diff = changes();
  if (!Object.keys(diff).length) {
    toast("No changes to save.", "ok", 3000);
    return true;
  }
  const note = noteInput.value.trim();
  if (note) diff.note = note;
  const c = await patch(`/characters/${id}`, diff);
  const bumped = c.version !== character.version;
  load(c);
  noteInput.value = "";
  toast(bumped ? `Saved as version ${c.version}.` : "Saved.", "ok", 4000);
  await refreshHistory();
  return true;
}

/** Save the form; false when it was refused. */
async function save() {
  clearErrors();
  touched.add("name");
  touched.add("age");
  if (!check()) {
    form.querySelector("[aria-invalid]")?.focus();
    formErrorBox.textContent = "Not saved: fix the fields marked above.";
    formErrorBox.dataset.client = "yes";
    formErrorBox.hidden = false;
    return false;
  }
  try {
    return await busy(saveButton, () => (id ? update() : create(draft())));
  } catch (err) {
    showServerError(err);
    return false;
  }
}

async function restore(number) {
  const text = isDirty()
    ? `Restore version ${number}? Your unsaved changes here will be lost.`
    : `Restore version ${number}? It is saved again as the newest version; nothing is lost.`;
  if (!(await confirmAction(text, "Restore"))) return;
  try {
    const c = await post(`/characters/${id}/versions/${number}/restore`);
    clearErrors();
    load(c);
    preview.refresh();
    toast(`Version ${number} restored as version ${c.version}.`, "ok", 4000);
    await refreshHistory();
  } catch (err) {
    showError(err);
  }
}

/** Before a lorebook import replaces the entries in the form: save what is unsaved, if wanted. */
async function saveBeforeImport(file) {
  if (!isDirty()) return true;
  const ok = await confirmAction(
    `You have unsaved changes. Save them first, then import ${file.name}? Importing reloads the form from the saved character.`,
    "Save and import");
  return ok && save();
}

function imported(c) {
  clearErrors();
  load(c);
  preview.refresh();
  refreshHistory().catch(showError);
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  save();
});
form.addEventListener("input", (e) => {
  if (e.target === noteInput) return;
  if (e.target === taglineInput) updateCounter();
  if (e.target.dataset.field || e.target === ageInput) changed();
});
form.addEventListener("change", (e) => {
  if (e.target.tagName === "SELECT") changed();
});
document.addEventListener("keydown", (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "s" && !readOnly) {
    e.preventDefault();
    save();
  }
});
window.addEventListener("beforeunload", (e) => {
  if (!leaving && isDirty()) {
    e.preventDefault();
    e.returnValue = "";
  }
});

// ---------- picture ----------

const pictureInput = $("picture-input");
$("picture-choose").addEventListener("click", () => pictureInput.click());
pictureInput.addEventListener("change", async () => {
  const file = pictureInput.files[0];
  pictureInput.value = "";
  if (!file) return;
  const state = $("picture-state");
  if (!id) {
    stagedPicture = file;
    showPicture(URL.createObjectURL(file));
    state.textContent = `${file.name} will be uploaded when you save.`;
    updateState();
    return;
  }
  state.textContent = `Uploading ${file.name}…`;
  try {
    const c = await busy($("picture-choose"), () => upload("PUT", `/characters/${id}/avatar`, pictureFields(file)));
    character = { ...character, avatar_url: c.avatar_url, version: c.version };
    showPicture(`${c.avatar_url}${c.avatar_url.includes("?") ? "&" : "?"}t=${Date.now()}`);
    renderHeader({ ...c, name: character.name });
    state.textContent = "Picture updated.";
    await refreshHistory();
  } catch (err) {
    if (err.code === "likeness_attestation_required" || err.code === "protected_likeness") {
      // Said beside the choice it asks for, not in a passing toast.
      state.textContent = err.message;
      if (err.code === "likeness_attestation_required") document.querySelector('input[name="likeness"]').focus();
      return;
    }
    state.textContent = "";
    showError(err);
  }
});

// ---------- actions ----------

$("studio-chat").addEventListener("click", async (e) => {
  if (!id) return;
  if (isDirty() && !(await save())) return;
  try {
    const conv = await busy(e.currentTarget, () => post("/conversations", { character_id: id }));
    leaving = true;
    window.location.assign(url(`/chat/${conv.id}`));
  } catch (err) {
    showError(err);
  }
});

$("studio-duplicate").addEventListener("click", async (e) => {
  if (isDirty() && !(await confirmAction(
    "Duplicate the saved version? Your unsaved changes here are not copied and will be lost.", "Duplicate"))) return;
  try {
    const copy = await busy(e.currentTarget, () => post(`/characters/${id}/duplicate`));
    leaving = true;
    window.location.assign(url(`/studio/${copy.id}`));
  } catch (err) {
    showError(err);
  }
});

// ---------- start ----------

(async () => {
  await requireUser();
  try {
    if (id) {
      load(await get(`/characters/${id}`));
      refreshHistory().catch(showError);
      voiceSlot(id, character.is_own).catch(showError);
    } else {
      fieldset.disabled = false;
      saved = draft();
      loreFiles.set(null);
      showPicture(null);
      updateState();
    }
  } catch (err) {
    showError(err);
    fieldset.disabled = true;
    $("save-bar").hidden = true;
    return;
  } finally {
    $("studio").setAttribute("aria-busy", "false");
  }
  const flash = sessionStorage.getItem(FLASH);
  if (flash) {
    sessionStorage.removeItem(FLASH);
    const { kind, text } = JSON.parse(flash);
    toast(text, kind, 5000);
  }
  preview.refresh();
})();
