// The chat page: the active path of a conversation, live replies over Server-Sent Events,
// swipes, edits, branches and the per-chat scene, sampler and world book settings.
import { API, del, get, getUsage, patch, post, requireUser, url } from "./api.js";
import { askPicture, pictureCommand, placePictures, startChatPictures } from "./chatpictures.js";
import { openChatWorlds } from "./chatworlds.js";
import { chatCall } from "./chatcall.js";
import { chatVoice } from "./chatvoice.js";
import {
  confirmAction, fillAvatar, fillNames, formError, h, pageObjectId, renderRichText, showError, toast,
} from "./ui.js";

const convId = pageObjectId();

const scroller = document.getElementById("chat-scroll");
const list = document.getElementById("messages");
const composer = document.getElementById("composer");
const input = document.getElementById("composer-input");
const sendBtn = document.getElementById("send");
const stopBtn = document.getElementById("stop");
const impersonateBtn = document.getElementById("impersonate");
const sceneDialog = document.getElementById("scene-dialog");
const samplerDialog = document.getElementById("sampler-dialog");

const state = {
  conv: null,
  userName: "You",
  stream: null, // {es, gid, kind, messageId, text, base, done}
  editing: null, // {id, draft}
  selected: null, // message id whose actions are shown on touch screens
  busy: false, // a request that changes the path is in flight
  inCall: false, // a voice call is adding the turns
  presets: null,
  failures: new Map(), // generation id -> times its stream could not be opened
};

const pushToTalk = document.getElementById("push-to-talk");
const voice = chatVoice({
  list, input, mic: pushToTalk,
  announce: (text) => announce(text), outOfSparks: (err) => outOfSparks(err), onReady: () => renderMessages(),
});

const call = chatCall({
  convId, button: document.getElementById("call-start"),
  who: () => (state.conv ? state.conv.character : null),
  showText: (el, text) => showText(el, text),
  announce: (text) => announce(text), outOfSparks: (err) => outOfSparks(err),
  onActive: (on) => {
    state.inCall = on;
    composer.classList.toggle("is-in-call", on); // the call panel takes its place
    pushToTalk.disabled = on; // one microphone user at a time
    if (on) voice.stopPlaying(); // and one voice
    renderMessages();
    updateComposer();
  },
  onMessages: () => refreshFromCall(),
});

const STATUS_LABEL = { stopped: "Stopped", interrupted: "Interrupted", error: "Failed" };

// ---------- helpers ----------

const messages = () => (state.conv ? state.conv.messages : []);
const findMessage = (id) => messages().find((m) => m.id === id) || null;
const generating = () => Boolean(state.stream);
const locked = () => generating() || state.busy || state.inCall;

function replaceMessage(old, fresh) {
  const msgs = messages();
  const i = msgs.findIndex((m) => m.id === old);
  if (i >= 0) msgs[i] = fresh;
  return i >= 0;
}

function showText(el, text) {
  renderRichText(el, fillNames(text, { char: state.conv.character.name, user: state.userName }));
}

function nearBottom() {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
}

function scrollToBottom() {
  scroller.scrollTop = scroller.scrollHeight;
}

function autoGrow() {
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight, Math.round(window.innerHeight * 0.4))}px`;
}

/** A reply the user cannot pay for: the server's reason, and where the prices are. */
function outOfSparks(err) {
  const link = h("a", { href: url("/pricing"), "data-testid": "pricing-link" }, "See the prices");
  toast([err.message, " ", link], "error", 15000);
}

async function guarded(work) {
  if (state.busy) return;
  state.busy = true;
  renderMessages();
  try {
    await work();
  } catch (err) {
    if (err && err.status === 402) outOfSparks(err);
    else showError(err);
  } finally {
    state.busy = false;
    renderMessages();
    updateComposer();
  }
}

// ---------- rendering ----------

function renderHeader() {
  const c = state.conv;
  const who = document.getElementById("chat-who");
  who.href = url(`/characters/${c.character.id}`);
  document.getElementById("open-memory").href = url(`/characters/${c.character.id}/memory`);
  document.getElementById("chat-name").textContent = c.character.name;
  document.getElementById("chat-sub").textContent =
    c.title && c.title !== c.character.name ? c.title.replace(/\*/g, "") : "";
  fillAvatar(document.getElementById("chat-avatar"), c.character.name, c.character.avatar_url);
  document.title = `${c.character.name} · Afterdark`;

  const note = document.getElementById("branch-note");
  if (c.branched_from) {
    note.replaceChildren("Branched from ",
      h("a", { href: url(`/chat/${c.branched_from.conversation_id}`) }, "an earlier chat"), ".");
    note.hidden = false;
  } else {
    note.hidden = true;
  }
  const card = document.getElementById("scene-card");
  showText(document.getElementById("scene-text"), c.scene || "");
  card.hidden = !c.scene;
}

function iconButton(icon, label, testid, onclick, disabled = false) {
  return h("button", {
    type: "button", class: "icon-btn icon-btn-sm", icon, "aria-label": label, title: label,
    "data-testid": testid, disabled, onclick,
  });
}

function swipeBar(m, isLastReply) {
  const count = m.swipe_count || 1;
  const index = m.swipe_index || 0;
  if (count < 2 && !isLastReply) return null;
  const off = locked();
  const bar = h("div", { class: "swipes", "data-testid": "swipes" });
  if (count > 1) {
    bar.append(
      iconButton("left", "Previous version", "swipe-left", () => swipe(m, "left"), off || index === 0),
      h("span", { class: "swipe-counter", "data-testid": "swipe-counter", "aria-label": `Version ${index + 1} of ${count}` },
        `${index + 1}/${count}`));
  }
  const atEnd = index >= count - 1;
  if (atEnd && isLastReply) {
    bar.append(iconButton("right", "Generate another version", "swipe-right", () => regenerate(m), off));
  } else if (count > 1) {
    bar.append(iconButton("right", "Next version", "swipe-right", () => swipe(m, "right"), off || atEnd));
  }
  return bar;
}

function editorFor(m) {
  const area = h("textarea", { class: "msg-editor", rows: 3, "aria-label": "Edit message", "data-testid": "edit-input" });
  area.value = state.editing.draft;
  area.addEventListener("input", () => {
    state.editing.draft = area.value;
    area.style.height = "auto";
    area.style.height = `${area.scrollHeight + 2}px`;
  });
  // A re-render (say, a reply finishing) rebuilds this editor; keep the caret where it was.
  const remember = () => { state.editing.caret = [area.selectionStart, area.selectionEnd]; };
  area.addEventListener("select", remember);
  area.addEventListener("keyup", remember);
  area.addEventListener("pointerup", remember);
  area.addEventListener("input", remember);
  const save = () => saveEdit(m, area.value);
  area.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.preventDefault(); cancelEdit(); }
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); save(); }
  });
  queueMicrotask(() => {
    area.style.height = `${area.scrollHeight + 2}px`;
    if (!state.editing || !state.editing.focus || document.activeElement === area) return;
    area.focus();
    const [start, end] = state.editing?.caret || [area.value.length, area.value.length];
    area.setSelectionRange(start, end);
  });
  return h("div", { class: "msg-edit" }, area,
    h("div", { class: "msg-edit-actions" },
      h("button", { type: "button", class: "btn", "data-testid": "edit-cancel", onclick: cancelEdit }, "Cancel"),
      h("button", { type: "button", class: "btn btn-primary", "data-testid": "edit-save", onclick: save }, "Save")));
}

function messageEl(m, index, msgs) {
  const isLast = index === msgs.length - 1;
  const isUser = m.role === "user";
  const isLastReply = isLast && !isUser && m.parent_id !== null && m.parent_id !== undefined;
  const streaming = m.status === "streaming" || (state.stream && state.stream.messageId === m.id);
  const name = isUser ? state.userName : state.conv.character.name;
  const off = locked();

  const li = h("li", {
    class: `msg msg-${isUser ? "user" : "char"}${streaming ? " is-streaming" : ""}${state.selected === m.id ? " is-selected" : ""}${isLast ? " is-last" : ""}`,
    "data-testid": "message", "data-message-id": m.id, "data-role": m.role, "data-status": m.status,
  });
  li.append(fillAvatar(h("span", { class: "avatar avatar-sm msg-avatar", "aria-hidden": "true" }), name,
    isUser ? null : state.conv.character.avatar_url));

  const body = h("div", { class: "msg-body" });
  const meta = h("div", { class: "msg-meta" }, h("span", { class: "msg-name" }, name));
  if (STATUS_LABEL[m.status]) {
    meta.append(h("span", { class: `badge badge-${m.status}`, "data-testid": "message-status" }, STATUS_LABEL[m.status]));
  }
  if (m.edited_at) meta.append(h("span", { class: "muted msg-edited" }, "edited"));
  body.append(meta);

  if (state.editing && state.editing.id === m.id) {
    body.append(editorFor(m));
  } else {
    const text = h("div", { class: "msg-text", "data-testid": "message-text" });
    showText(text, m.content);
    text.addEventListener("click", () => {
      state.selected = state.selected === m.id ? null : m.id;
      for (const el of list.querySelectorAll(".msg.is-selected")) el.classList.remove("is-selected");
      if (state.selected === m.id) li.classList.add("is-selected");
    });
    body.append(text);
  }
  if (m.status === "error") {
    body.append(h("p", { class: "msg-error", "data-testid": "message-error" },
      m.error || "The reply could not be generated."));
  }

  if (state.editing && state.editing.id === m.id) {
    li.append(body);
    return li;
  }
  const swipes = swipeBar(m, isLastReply);
  const bar = h("div", { class: swipes ? "msg-bar" : "msg-bar no-swipes" });
  if (swipes) bar.append(swipes);
  const actions = h("div", { class: "msg-actions", "data-testid": "message-actions" }, voice.speakButton(m));
  if (isLast && !isUser) {
    actions.append(iconButton("continue", "Continue this reply", "continue", () => continueReply(m), off));
  }
  if (isLastReply) {
    actions.append(iconButton("regenerate", "Regenerate this reply", "regenerate", () => regenerate(m), off));
  }
  actions.append(
    iconButton("edit", "Edit message", "edit", () => startEdit(m), off),
    iconButton("branch", "Branch from here", "branch", () => branch(m), off),
    iconButton("trash", "Delete message", "delete", () => removeMessage(m), off));
  bar.append(actions);
  body.append(bar);
  li.append(body);
  return li;
}

function renderMessages() {
  if (!state.conv) return;
  const stick = nearBottom();
  const msgs = messages();
  if (state.editing && list.querySelector(".msg-editor")) {
    // Refocus the rebuilt editor only if the person was typing in it.
    state.editing.focus = document.activeElement?.classList.contains("msg-editor") ?? false;
  }
  list.replaceChildren(...msgs.map((m, i) => messageEl(m, i, msgs)));
  list.setAttribute("aria-busy", "false");
  if (!msgs.length) {
    list.append(h("li", { class: "muted empty" }, `Say hello to ${state.conv.character.name}.`));
  }
  placePictures();
  if (stick) scrollToBottom();
}

function updateComposer() {
  const live = generating();
  stopBtn.hidden = !live;
  sendBtn.hidden = live;
  sendBtn.disabled = state.busy || state.inCall;
  impersonateBtn.disabled = live || state.busy || state.inCall;
  composer.classList.toggle("is-generating", live);
}

let paintQueued = false;
function paintStreaming() {
  if (paintQueued) return;
  paintQueued = true;
  requestAnimationFrame(() => {
    paintQueued = false;
    const s = state.stream;
    if (!s || s.kind === "impersonate" || s.messageId === null) return;
    const li = list.querySelector(`[data-message-id="${s.messageId}"]`);
    const text = li && li.querySelector(".msg-text");
    if (!text) return;
    const stick = nearBottom();
    showText(text, s.text);
    if (stick) scrollToBottom();
  });
}

// ---------- streaming ----------

function closeStream() {
  if (state.stream) {
    state.stream.done = true;
    state.stream.es.close();
    state.stream = null;
  }
}

function openStream(gid, { base = null } = {}) {
  closeStream();
  const es = new EventSource(`${API}/generations/${gid}/events`);
  const s = { es, gid, kind: null, messageId: null, text: "", base, done: false };
  state.stream = s;
  updateComposer();
  renderMessages();

  es.addEventListener("start", (e) => {
    if (s.done) return;
    const d = JSON.parse(e.data);
    s.kind = d.kind;
    s.messageId = d.message_id ?? null;
    if (s.kind === "impersonate") {
      s.text = "";
      input.value = "";
      return;
    }
    const m = findMessage(s.messageId);
    s.text = s.kind === "continue" ? (s.base ?? (m ? m.content : "")) : "";
    if (m) {
      m.content = s.text;
      m.status = "streaming";
    }
    renderMessages();
  });

  es.addEventListener("token", (e) => {
    if (s.done) return;
    const d = JSON.parse(e.data);
    s.text += d.text || "";
    state.failures.delete(gid);
    if (s.kind === "impersonate") {
      input.value = s.text;
      autoGrow();
    } else {
      const m = findMessage(s.messageId);
      if (m) m.content = s.text;
      paintStreaming();
    }
  });

  es.addEventListener("done", (e) => {
    if (s.done) return;
    const d = JSON.parse(e.data);
    s.done = true;
    es.close();
    if (state.stream === s) state.stream = null;
    finishStream(s, d);
  });

  es.addEventListener("error", () => {
    if (s.done) return;
    if (es.readyState !== EventSource.CLOSED) return; // the browser reconnects with Last-Event-ID
    // The server refused the stream (the generation is gone, or we were signed out).
    s.done = true;
    if (state.stream === s) state.stream = null;
    const tries = (state.failures.get(gid) || 0) + 1;
    state.failures.set(gid, tries);
    updateComposer();
    if (tries > 3) {
      toast("Lost the live reply. Reload the page to see where it got to.");
      renderMessages();
      return;
    }
    setTimeout(() => reload().catch(showError), 500 * tries);
  });
}

function announce(text) {
  document.getElementById("chat-announce").textContent = text;
}

function finishStream(s, d) {
  if (s.kind !== "impersonate" && state.conv) {
    const said = d.message ? d.message.content : d.content;
    const name = state.conv.character.name;
    announce(d.status === "error"
      ? `${name}'s reply failed: ${d.error || "unknown error"}`
      : `${name}: ${fillNames(said || "", { char: name, user: state.userName })}`);
  }
  if (s.kind === "impersonate") {
    if (typeof d.content === "string" && d.status !== "error") input.value = d.content;
    if (d.status === "error") toast(d.error || "Could not draft your line.");
    autoGrow();
    input.focus();
  } else if (d.message) {
    if (!replaceMessage(d.message.id, d.message)) {
      reload().catch(showError);
    }
  } else {
    const m = findMessage(s.messageId);
    if (m) {
      m.status = d.status;
      m.error = d.error ?? null;
      if (typeof d.content === "string") m.content = d.content;
    }
  }
  if (state.conv) state.conv.generation_id = null;
  updateComposer();
  renderMessages();
  if (s.kind !== "impersonate") checkUsage({ replyDone: true });
  if (state.conv && (!state.conv.title || state.conv.title === state.conv.character.name)) {
    // The server names a chat after its first line; show the new name.
    get(`/conversations/${convId}`).then((fresh) => {
      if (!state.conv) return;
      state.conv.title = fresh.title;
      renderHeader();
    }).catch(() => {});
  }
}

// ---------- actions ----------

async function reload() {
  const conv = await get(`/conversations/${convId}`);
  state.conv = conv;
  renderHeader();
  renderMessages();
  if (conv.generation_id && (!state.stream || state.stream.gid !== conv.generation_id)) {
    openStream(conv.generation_id);
  }
  updateComposer();
}

// A call saves its turns on the server: show them, one refresh at a time.
const callRefresh = { running: false, again: false };
async function refreshFromCall() {
  if (callRefresh.running) {
    callRefresh.again = true;
    return;
  }
  callRefresh.running = true;
  try {
    do {
      callRefresh.again = false;
      await reload();
      scrollToBottom();
    } while (callRefresh.again);
  } catch (err) {
    showError(err);
  } finally {
    callRefresh.running = false;
  }
}

function applyTurn(turn, replacing = null) {
  if (replacing !== null) {
    replaceMessage(replacing, turn.reply);
  } else {
    if (turn.user_message) messages().push(turn.user_message);
    messages().push(turn.reply);
  }
}

async function send() {
  const content = input.value.trim();
  const wanted = content ? pictureCommand(content) : null;
  if (wanted !== null) {
    // "/pic by the window" asks for a picture; it is not said in the chat.
    input.value = "";
    autoGrow();
    askPicture(wanted).catch(() => {
      if (!input.value) input.value = content;
      autoGrow();
    });
    return;
  }
  if (!content || locked()) return;
  const last = messages().at(-1);
  input.value = "";
  autoGrow();
  await guarded(async () => {
    try {
      const turn = await post(`/conversations/${convId}/messages`, { content, parent_id: last ? last.id : null });
      applyTurn(turn);
      scrollToBottom();
      if (turn.generation_id) openStream(turn.generation_id);
    } catch (err) {
      if (!input.value) input.value = content;
      autoGrow();
      throw err;
    }
  });
  scrollToBottom();
}

function regenerate(m) {
  return guarded(async () => {
    const turn = await post(`/messages/${m.id}/regenerate`);
    applyTurn(turn, m.id);
    if (turn.generation_id) openStream(turn.generation_id);
  });
}

function continueReply(m) {
  const base = m.content;
  return guarded(async () => {
    const turn = await post(`/messages/${m.id}/continue`);
    applyTurn(turn, m.id);
    if (turn.generation_id) openStream(turn.generation_id, { base });
  });
}

function swipe(m, direction) {
  return guarded(async () => {
    state.conv = await post(`/messages/${m.id}/swipe`, { direction });
    if (state.conv.generation_id) openStream(state.conv.generation_id);
  });
}

function impersonate() {
  if (locked()) return;
  return guarded(async () => {
    const r = await post(`/conversations/${convId}/impersonate`);
    openStream(r.generation_id);
  });
}

async function stop() {
  const s = state.stream;
  if (!s) return;
  stopBtn.disabled = true;
  try {
    await post(`/generations/${s.gid}/stop`);
  } catch (err) {
    showError(err);
  } finally {
    stopBtn.disabled = false;
  }
}

function startEdit(m) {
  if (locked()) return;
  state.editing = { id: m.id, draft: m.content, focus: true };
  renderMessages();
}

function cancelEdit() {
  state.editing = null;
  renderMessages();
}

function saveEdit(m, content) {
  return guarded(async () => {
    const fresh = await patch(`/messages/${m.id}`, { content });
    replaceMessage(m.id, fresh);
    state.editing = null;
  });
}

async function removeMessage(m) {
  if (locked()) return;
  const later = messages().length - 1 - messages().indexOf(m);
  const text = later > 0
    ? `Delete this message and the ${later} after it? This cannot be undone.`
    : "Delete this message? This cannot be undone.";
  if (!(await confirmAction(text))) return;
  await guarded(async () => {
    state.conv = await del(`/messages/${m.id}`);
    if (state.editing && !findMessage(state.editing.id)) state.editing = null;
  });
}

function branch(m) {
  return guarded(async () => {
    const conv = await post(`/messages/${m.id}/branch`);
    window.location.assign(url(`/chat/${conv.id}`));
  });
}

// ---------- healthy-use reminders ----------

// A gentle note above the composer when a limit the person set is reached or a break is due.
// It never blocks anything; a dismissed kind stays dismissed for this browser session.
const nudgeRegion = document.getElementById("nudge-region");
const NUDGE_KEY = "afterdark:nudge-dismissed";
const USAGE_EVERY_MS = 60_000;
const usageCheck = { last: 0, due: 0, timer: null, running: false, again: false };

function dismissedKind() {
  try {
    return window.sessionStorage.getItem(NUDGE_KEY);
  } catch {
    return null; // storage blocked: the banner can still be closed for this page
  }
}

function rememberDismissed(kind) {
  try {
    window.sessionStorage.setItem(NUDGE_KEY, kind);
  } catch {
    // storage blocked
  }
}

function showNudge(nudge) {
  const current = nudgeRegion.querySelector(".nudge");
  if (!nudge || nudge.kind === dismissedKind()) {
    if (current) nudgeRegion.replaceChildren();
    return;
  }
  if (current && current.dataset.kind === nudge.kind) {
    const text = current.querySelector(".nudge-text");
    if (text.textContent !== nudge.message) text.textContent = nudge.message;
    return;
  }
  const dismiss = h("button", {
    type: "button", class: "btn btn-small nudge-dismiss", "aria-label": "Dismiss this reminder",
    "data-testid": "nudge-dismiss",
    onclick: () => {
      rememberDismissed(nudge.kind);
      const hadFocus = nudgeRegion.contains(document.activeElement);
      nudgeRegion.replaceChildren();
      if (hadFocus) input.focus();
    },
  }, "Dismiss");
  const stick = nearBottom();
  nudgeRegion.replaceChildren(h("div", { class: "nudge", "data-testid": "nudge", "data-kind": nudge.kind },
    h("p", { class: "nudge-text", "data-testid": "nudge-text" }, nudge.message),
    h("div", { class: "nudge-actions" },
      h("a", {
        class: "nudge-link", href: url("/settings#time"), "aria-label": "Limits in Settings",
        "data-testid": "nudge-limits",
      }, "Limits"),
      dismiss)));
  if (stick) scrollToBottom(); // the banner takes room from the messages: keep the last in view
}

async function runUsageCheck() {
  usageCheck.timer = null;
  if (usageCheck.running) {
    usageCheck.again = true; // a reply finished meanwhile: look once more when this answers
    return;
  }
  usageCheck.running = true;
  usageCheck.last = Date.now();
  try {
    const report = await getUsage({ auth: false });
    // "Reminders" off in Settings: no banners (a hard stop still applies on the server).
    showNudge(report.settings && report.settings.nudges === false ? null : report.nudge);
  } catch {
    // Only a reminder: never trouble the chat with its failures.
  } finally {
    usageCheck.running = false;
    if (usageCheck.again) {
      usageCheck.again = false;
      checkUsage({ replyDone: true });
    }
  }
}

/** Look at today's usage soon: just after a reply finishes, otherwise at most once a minute. */
function checkUsage({ replyDone = false } = {}) {
  const now = Date.now();
  const due = replyDone ? now + 300 : Math.max(now + 300, usageCheck.last + USAGE_EVERY_MS);
  if (usageCheck.timer !== null && usageCheck.due <= due) return; // one is coming sooner already
  clearTimeout(usageCheck.timer);
  usageCheck.due = due;
  usageCheck.timer = setTimeout(runUsageCheck, due - now);
}

// ---------- scene and sampler dialogs ----------

function openScene() {
  if (!state.conv) return;
  const form = sceneDialog.querySelector("form");
  form.elements.namedItem("scene").value = state.conv.scene || "";
  sceneDialog.showModal();
}

sceneDialog.querySelector("form").addEventListener("submit", async (e) => {
  if (!e.submitter || e.submitter.value !== "save") return;
  e.preventDefault();
  const scene = e.target.elements.namedItem("scene").value;
  try {
    state.conv = await patch(`/conversations/${convId}`, { scene });
    renderHeader();
    sceneDialog.close();
  } catch (err) {
    showError(err);
  }
});

const SAMPLER_NUMBERS = ["temperature", "top_p", "min_p", "top_k", "repetition_penalty", "max_tokens"];
const INTEGER_FIELDS = new Set(["top_k", "max_tokens"]);

function fillSampler(form, sampler) {
  for (const key of SAMPLER_NUMBERS) {
    const v = sampler ? sampler[key] : null;
    form.elements.namedItem(key).value = v === null || v === undefined ? "" : String(v);
  }
  form.elements.namedItem("stop").value = ((sampler && sampler.stop) || []).join("\n");
}

async function openSampler() {
  if (!state.conv) return;
  const form = samplerDialog.querySelector("form");
  formError(form, "");
  if (!state.presets) {
    try {
      state.presets = await get("/presets");
    } catch (err) {
      showError(err);
      state.presets = [];
    }
  }
  const select = form.elements.namedItem("preset");
  const current = state.conv.preset || "";
  const options = state.presets.map((p) => h("option", { value: p.name }, p.label || p.name));
  if (!state.presets.some((p) => p.name === current)) {
    options.unshift(h("option", { value: current }, current ? current : "Custom"));
  }
  select.replaceChildren(...options);
  select.value = current;
  fillSampler(form, state.conv.sampler);
  samplerDialog.showModal();
}

samplerDialog.querySelector('select[name="preset"]').addEventListener("change", (e) => {
  const preset = (state.presets || []).find((p) => p.name === e.target.value);
  if (preset) fillSampler(samplerDialog.querySelector("form"), preset.sampler);
});

samplerDialog.querySelector("form").addEventListener("submit", async (e) => {
  if (!e.submitter || e.submitter.value !== "save") return;
  e.preventDefault();
  const form = e.target;
  const sampler = {};
  for (const key of SAMPLER_NUMBERS) {
    const raw = form.elements.namedItem(key).value.trim();
    sampler[key] = raw === "" ? null : INTEGER_FIELDS.has(key) ? Number.parseInt(raw, 10) : Number(raw);
  }
  sampler.stop = form.elements.namedItem("stop").value.split("\n").filter((s) => s.length > 0);
  const preset = form.elements.namedItem("preset").value || null;
  try {
    state.conv = await patch(`/conversations/${convId}`, { preset, sampler });
    samplerDialog.close();
    toast("Generation settings saved.", "ok", 2500);
  } catch (err) {
    formError(form, err.message);
  }
});

// ---------- wiring ----------

composer.addEventListener("submit", (e) => {
  e.preventDefault();
  send();
});
input.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
    e.preventDefault();
    send();
  }
});
input.addEventListener("input", autoGrow);
stopBtn.addEventListener("click", stop);
impersonateBtn.addEventListener("click", impersonate);
document.getElementById("open-scene").addEventListener("click", openScene);
document.getElementById("open-sampler").addEventListener("click", () => openSampler().catch(showError));
document.getElementById("open-worlds").addEventListener("click", () => {
  if (state.conv) openChatWorlds(convId, state.conv.character).catch(showError);
});

document.addEventListener("keydown", (e) => {
  // Arrow keys swipe the last reply while the composer is empty and nothing else has focus.
  if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
  const target = e.target;
  const inComposer = target === input && input.value === "";
  if (target !== document.body && !inComposer) return;
  if (document.querySelector("dialog[open]") || locked()) return;
  const msgs = messages();
  const last = msgs.at(-1);
  if (!last || last.role === "user") return;
  const bar = list.lastElementChild?.querySelector(
    `[data-testid="swipe-${e.key === "ArrowLeft" ? "left" : "right"}"]`);
  if (bar && !bar.disabled) {
    e.preventDefault();
    bar.click();
  }
});

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") checkUsage();
});

window.addEventListener("pagehide", () => {
  if (state.stream) state.stream.es.close();
});

(async () => {
  const me = await requireUser();
  state.userName = me.display_name || "You";
  get("/me/persona").then((p) => {
    if (p && p.name) {
      state.userName = p.name;
      renderMessages();
    }
  }).catch(() => {});
  try {
    await reload();
    scrollToBottom();
    startChatPictures(convId, state.conv.character).catch(showError);
  } catch (err) {
    list.setAttribute("aria-busy", "false");
    if (err.status === 404) {
      list.replaceChildren(h("li", { class: "muted empty" }, err.message, " ",
        h("a", { href: url("/conversations") }, "Back to your chats.")));
      composer.hidden = true;
      return;
    }
    showError(err);
  }
  if (window.matchMedia("(hover: hover)").matches) input.focus();
  checkUsage();
  voice.start();
  call.init();
})();
