// The live voice call in the chat: the microphone streams to the server over a WebSocket
// (/api/v1/conversations/{id}/call), the character answers in text and in audio clips that
// play back to back, and each turn lands in the conversation like a typed one.
//
// Client -> server: {"type":"start","sample_rate":N}, then 16-bit LE mono PCM frames of about
// 40 ms; {"type":"played"} when the audio queue drains; {"type":"hangup"} to end.
// Server -> client: ready, state, transcript, reply (deltas), audio (+ one binary WAV frame),
// reply_done, barge_in, latency, error; closes with 1000 or 44xx/4503.
import { API, get } from "./api.js";
import { fillAvatar, h, setIcon, showError } from "./ui.js";
import { micError } from "./chatvoice.js";

const STATE_TEXT = {
  connecting: "Connecting…",
  listening: "Listening…",
  hearing: "Hearing you…",
  thinking: "Thinking…",
  speaking: "Speaking…",
  ended: "Call ended.",
};
const LATENCY_KEYS = ["end_of_speech", "transcript", "first_token", "first_audio", "llm", "total", "without_llm"];
const CLOSE_TEXT = {
  4400: "The call could not start (the server did not accept its audio format).",
  4401: "You are signed out. Sign in again to call.",
  4402: "You do not have enough Sparks for a call.",
  4403: "Calls are not allowed here.",
  4404: "This chat no longer exists.",
  4503: "Voice is turned off on this server.",
};
const MIN_RATE = 8_000; // the sample rates the server accepts
const MAX_RATE = 96_000;
const CLOSE_WAIT_MS = 2000; // after a hang-up, how long the server may take to close
const BACKLOG_SECONDS = 2; // audio waiting to go out beyond this is dropped, not queued
const EARLY_BLOCKS = 100; // blocks kept while the socket opens (about 4 s)
const WORKLET = new URL("./callworklet.js", import.meta.url); // same origin: CSP script-src 'self'
const MIC_CONSTRAINTS = { audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true } };

// Call icons in the style of ui.js's set (stroke, 24-unit grid, currentColor).
const PHONE = '<path d="M6.6 3.5h2.6l1.6 4.3-2 1.4a11 11 0 0 0 6 6l1.4-2 4.3 1.6v2.6a2 2 0 0 1-2.1 2A16.5 16.5 0 0 1 4.5 5.6a2 2 0 0 1 2.1-2.1z"/>';
const HANG_UP = `<g transform="rotate(135 12 12)">${PHONE}</g>`;
const MIC_OFF = '<path d="M15 10V6a3 3 0 0 0-5.7-1.3"/><path d="M9 9v2a3 3 0 0 0 4.6 2.5"/><path d="M5 11a7 7 0 0 0 11.3 5.5M19 11a7 7 0 0 1-.4 2.3"/><path d="M12 18v3"/><path d="M4 4l16 16"/>';

function drawIcon(el, body) {
  // Fixed markup of our own, as in ui.js's setIcon.
  el.innerHTML = `<svg class="icon" viewBox="0 0 24 24" width="20" height="20" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">${body}</svg>`;
}

function socketUrl(convId) {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}${API}/conversations/${convId}/call`;
}

/** Float samples in [-1, 1] as little-endian signed 16-bit PCM. */
function toPcm16(floats) {
  const out = new DataView(new ArrayBuffer(floats.length * 2));
  for (let i = 0; i < floats.length; i += 1) {
    const s = Math.max(-1, Math.min(1, floats[i]));
    out.setInt16(i * 2, s < 0 ? Math.round(s * 0x8000) : Math.round(s * 0x7fff), true);
  }
  return out.buffer;
}

/**
 * Wire the call. `button` starts it; `who()` is the chat's character ({name, avatar_url});
 * `showText(el, text)` writes a line as the chat does; `announce(text)` speaks through the
 * chat's live region; `outOfSparks(err)` shows a 402; `onActive(on)` tells the chat a call
 * began or ended; `onMessages()` asks it to refresh its messages from the server.
 */
export function chatCall({ convId, button, who, showText, announce, outOfSparks, onActive, onMessages }) {
  const panel = document.getElementById("call-panel");
  const nameEl = document.getElementById("call-name");
  const avatarEl = document.getElementById("call-avatar");
  const stateEl = document.getElementById("call-state");
  const errorEl = document.getElementById("call-error");
  const transcript = document.getElementById("call-transcript");
  const latencyRows = document.getElementById("call-latency-rows");
  const muteBtn = document.getElementById("call-mute");
  const hangupBtn = document.getElementById("call-hangup");
  const hangupLabel = document.getElementById("call-hangup-label");

  let call = null; // the call in progress
  let leaving = false; // the page is going away

  drawIcon(button, PHONE);
  drawIcon(hangupBtn.querySelector(".call-hangup-icon"), HANG_UP);

  // ---------- the panel ----------

  function setState(c, state) {
    if (c !== call && state !== "ended") return;
    panel.dataset.state = state;
    stateEl.textContent = STATE_TEXT[state] || state;
  }

  function panelError(text) {
    errorEl.textContent = text || "";
    errorEl.hidden = !text;
  }

  function paintMute(muted) {
    // One name for the toggle; aria-pressed says whether it is on.
    muteBtn.setAttribute("aria-pressed", muted ? "true" : "false");
    muteBtn.title = muted ? "Unmute" : "Mute";
    if (muted) drawIcon(muteBtn, MIC_OFF);
    else setIcon(muteBtn, "mic");
  }

  function paintCounts(c) {
    panel.dataset.clipsPlayed = String(c.clips);
    panel.dataset.secondsPlayed = c.seconds.toFixed(2);
  }

  function setName(name, avatarUrl) {
    nameEl.textContent = name || "…";
    fillAvatar(avatarEl, name || "?", avatarUrl || null);
  }

  function openPanel(c) {
    const character = who() || {};
    setName(character.name, character.avatar_url);
    transcript.replaceChildren();
    latencyRows.replaceChildren();
    panelError("");
    paintMute(false);
    paintCounts(c);
    hangupLabel.textContent = "Hang up";
    hangupBtn.setAttribute("aria-label", "Hang up");
    muteBtn.hidden = false;
    panel.hidden = false;
    button.disabled = true;
    button.setAttribute("aria-expanded", "true");
    setState(c, "connecting");
    hangupBtn.focus();
  }

  function closePanel() {
    panel.hidden = true;
    delete panel.dataset.state;
    button.setAttribute("aria-expanded", "false");
    if (!button.hidden) button.focus();
  }

  function keepInView() {
    transcript.scrollTop = transcript.scrollHeight;
  }

  function turnFor(c, role, messageId) {
    const key = `${role}:${messageId}`;
    let turn = c.turns.get(key);
    if (!turn) {
      const name = role === "user" ? "You" : nameEl.textContent;
      const text = h("span", { class: "call-turn-text", "data-testid": "call-turn-text" });
      const li = h("li", {
        class: `call-turn call-turn-${role}`, "data-testid": "call-turn", "data-role": role,
        "data-message-id": messageId ?? "",
      }, h("span", { class: "call-turn-who" }, name, h("span", { class: "visually-hidden" }, ":")), " ", text);
      turn = { li, text, content: "" };
      c.turns.set(key, turn);
      transcript.append(li);
    }
    return turn;
  }

  function showTurn(turn, content) {
    turn.content = content;
    showText(turn.text, content);
    keepInView();
  }

  function addLatency(event) {
    const ms = event.ms || {};
    const cell = (key) => {
      const v = ms[key];
      return h("td", { "data-key": key }, typeof v === "number" && Number.isFinite(v) ? String(Math.round(v)) : "–");
    };
    latencyRows.append(h("tr", { "data-testid": "call-latency-row" },
      h("th", { scope: "row" }, String(event.turn ?? latencyRows.children.length + 1)),
      ...LATENCY_KEYS.map(cell)));
  }

  // ---------- playback ----------

  function stopPlayback(c) {
    for (const item of c.playing) {
      item.stopped = true;
      const heard = c.ctx ? Math.min(item.duration, Math.max(0, c.ctx.currentTime - item.at)) : 0;
      c.seconds += heard;
      try {
        item.src.stop();
      } catch {
        // never started
      }
      item.src.disconnect();
    }
    c.playing.clear();
    c.playEnd = 0;
    c.heardSomething = false;
    paintCounts(c);
  }

  /** Tell the server the queue ran dry (it knows whether more is on the way). */
  function maybeDrained(c) {
    if (c.ended || !c.heardSomething) return;
    if (c.playing.size || c.decoding || c.pendingAudio) return;
    c.heardSomething = false;
    // Which clip ran last: a clip the server sent meanwhile keeps it knowing we still play.
    sendJson(c, { type: "played", ...c.lastPlayed });
  }

  function schedule(c, buffer, meta) {
    const src = c.ctx.createBufferSource();
    src.buffer = buffer;
    src.connect(c.ctx.destination);
    const at = Math.max(c.ctx.currentTime, c.playEnd);
    const item = { src, at, duration: buffer.duration, stopped: false };
    src.addEventListener("ended", () => {
      if (item.stopped || c.ended) return;
      c.playing.delete(item);
      c.clips += 1;
      c.seconds += item.duration;
      c.lastPlayed = { message_id: meta.message_id, seq: meta.seq };
      paintCounts(c);
      maybeDrained(c);
    });
    src.start(at);
    c.playEnd = at + buffer.duration;
    c.playing.add(item);
    c.heardSomething = true;
  }

  function playClip(c, meta, data) {
    if (c.ended || c.dropped.has(meta.message_id)) return;
    c.decoding += 1;
    // In order: a short clip must not overtake a long one while they decode.
    c.chain = c.chain.then(async () => {
      let buffer = null;
      try {
        buffer = await c.ctx.decodeAudioData(data);
      } catch {
        // an undecodable clip is skipped; the words are in the transcript
      }
      c.decoding -= 1;
      if (buffer && !c.ended && !c.dropped.has(meta.message_id)) schedule(c, buffer, meta);
      else maybeDrained(c);
    });
  }

  // ---------- the socket ----------

  function sendJson(c, message) {
    if (c.ws && c.ws.readyState === WebSocket.OPEN) c.ws.send(JSON.stringify(message));
  }

  function sendBlock(c, floats) {
    if (c.ended) return;
    // Muted: silence goes instead, so the server still hears a turn end.
    if (c.muted) floats = new Float32Array(floats.length);
    if (!c.started) {
      c.early.push(floats);
      if (c.early.length > EARLY_BLOCKS) c.early.shift();
      return;
    }
    const ws = c.ws;
    if (ws.readyState !== WebSocket.OPEN) return;
    // A slow link: drop audio rather than let it pile up behind the conversation.
    if (ws.bufferedAmount > c.ctx.sampleRate * 2 * BACKLOG_SECONDS) return;
    ws.send(toPcm16(floats));
  }

  function onOpen(c) {
    if (c.ended) return;
    c.opened = true;
    sendJson(c, { type: "start", sample_rate: c.ctx.sampleRate });
    c.started = true;
    const early = c.early;
    c.early = [];
    for (const block of early) sendBlock(c, block);
  }

  function onMessage(c, e) {
    if (c.ended) return;
    if (typeof e.data !== "string") {
      const meta = c.pendingAudio;
      c.pendingAudio = null;
      if (meta) playClip(c, meta, e.data);
      return;
    }
    let msg;
    try {
      msg = JSON.parse(e.data);
    } catch {
      return;
    }
    switch (msg.type) {
      case "ready":
        if (msg.character) setName(msg.character, (who() || {}).avatar_url);
        if (!c.stateSeen) setState(c, "listening");
        announce(`On a call with ${nameEl.textContent}.`);
        break;
      case "state":
        c.stateSeen = true;
        setState(c, msg.state);
        break;
      case "transcript":
        panelError("");
        showTurn(turnFor(c, "user", msg.message_id), msg.text || "");
        onMessages();
        break;
      case "reply": {
        const turn = turnFor(c, "char", msg.message_id);
        showTurn(turn, turn.content + (msg.text || ""));
        break;
      }
      case "audio":
        c.pendingAudio = msg; // the next binary frame is its WAV
        break;
      case "reply_done": {
        const turn = turnFor(c, "char", msg.message_id);
        if (typeof msg.content === "string") showTurn(turn, msg.content);
        turn.li.dataset.status = msg.status || "done";
        if (msg.status === "error") panelError(msg.error || "The reply could not be generated.");
        onMessages();
        break;
      }
      case "barge_in": {
        c.dropped.add(msg.message_id);
        stopPlayback(c);
        const turn = c.turns.get(`char:${msg.message_id}`);
        if (turn) turn.li.dataset.interrupted = "true";
        break;
      }
      case "latency":
        addLatency(msg);
        break;
      case "error":
        if (msg.code === "payment_required") outOfSparks({ message: msg.message || CLOSE_TEXT[4402] });
        if (msg.fatal) end(c, { error: msg.message || "The call had a problem.", hangup: false });
        else panelError(msg.message || "Something went wrong in the call.");
        break;
      default:
        break; // a newer server's event: nothing to do here
    }
  }

  function onClose(c, e) {
    clearTimeout(c.closeTimer);
    c.resolveClosed();
    if (c.ended) return;
    let text = CLOSE_TEXT[e.code];
    if (!text) {
      if (!c.opened) text = "The call could not connect. Check your connection and try again.";
      else if (e.code === 1000) text = "The call has ended.";
      else text = "The call was cut off. Check your connection and call again.";
    }
    end(c, { error: text, hangup: false });
  }

  // ---------- start and end ----------

  function teardownAudio(c) {
    if (c.node) {
      c.node.port.onmessage = null;
      c.node.port.postMessage({ type: "stop" });
      c.node.disconnect();
    }
    if (c.source) c.source.disconnect();
    if (c.stream) for (const track of c.stream.getTracks()) track.stop();
    c.stream = null;
    stopPlayback(c);
    if (c.ctx && c.ctx.state !== "closed") c.ctx.close().catch(() => {});
  }

  /** End the call `c`: a hang-up without `error`, else it stays on the panel, with the reason. */
  function end(c, { error = null, hangup = true } = {}) {
    if (c.ended) return;
    c.ended = true;
    teardownAudio(c);
    const ws = c.ws;
    if (ws && ws.readyState === WebSocket.OPEN) {
      if (hangup) sendJson(c, { type: "hangup" });
      // The server closes (1000) once it has put the call away; don't wait for it forever.
      c.closeTimer = setTimeout(() => {
        ws.close(1000);
        c.resolveClosed();
      }, CLOSE_WAIT_MS);
    } else {
      if (ws && ws.readyState === WebSocket.CONNECTING) ws.close();
      c.resolveClosed();
    }
    if (call === c) call = null;
    button.disabled = false;
    onActive(false);
    if (error) {
      setState(c, "ended");
      panelError(error);
      announce(error);
      muteBtn.hidden = true;
      hangupLabel.textContent = "Close";
      hangupBtn.setAttribute("aria-label", "Close the call panel");
    } else {
      announce("Call ended.");
      closePanel();
    }
    c.closed.then(() => {
      if (!leaving) onMessages(); // the turns the server saved, up to date
    });
  }

  function unsupported() {
    if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return "Voice calls need a microphone and a secure (https) connection.";
    }
    if (typeof window.AudioWorkletNode !== "function" || typeof window.AudioContext !== "function") {
      return "This browser cannot make voice calls. Try a recent Chrome, Edge, Firefox or Safari.";
    }
    return null;
  }

  async function start() {
    if (call) return;
    const why = unsupported();
    if (why) {
      showError(new Error(why));
      return;
    }
    let done;
    const c = {
      ws: null, ctx: null, stream: null, source: null, node: null,
      opened: false, started: false, stateSeen: false, ended: false, muted: false,
      early: [], pendingAudio: null, dropped: new Set(), playing: new Set(), playEnd: 0,
      chain: Promise.resolve(), decoding: 0, heardSomething: false, clips: 0, seconds: 0,
      turns: new Map(), closeTimer: null, closed: new Promise((resolve) => { done = resolve; }),
    };
    c.resolveClosed = done;
    call = c;
    onActive(true);
    openPanel(c);

    // Made while the click still counts as a gesture, so the browser lets it play sound.
    try {
      c.ctx = new AudioContext({ latencyHint: "interactive" });
      if (c.ctx.sampleRate < MIN_RATE || c.ctx.sampleRate > MAX_RATE) {
        // A studio sound card: the browser resamples the microphone to a rate the server takes.
        c.ctx.close().catch(() => {});
        c.ctx = new AudioContext({ latencyHint: "interactive", sampleRate: 48_000 });
      }
    } catch {
      end(c, { error: "The call could not start its audio.", hangup: false });
      return;
    }

    const ws = new WebSocket(socketUrl(convId));
    ws.binaryType = "arraybuffer";
    c.ws = ws;
    ws.addEventListener("open", () => onOpen(c));
    ws.addEventListener("message", (e) => onMessage(c, e));
    ws.addEventListener("close", (e) => onClose(c, e));

    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia(MIC_CONSTRAINTS);
    } catch (err) {
      end(c, { error: micError(err) });
      return;
    }
    if (c.ended) {
      for (const track of stream.getTracks()) track.stop();
      return;
    }
    c.stream = stream;
    try {
      await c.ctx.audioWorklet.addModule(WORKLET);
      if (c.ended) return;
      c.source = c.ctx.createMediaStreamSource(stream);
      c.node = new AudioWorkletNode(c.ctx, "afterdark-call-capture", {
        numberOfInputs: 1, numberOfOutputs: 0, channelCount: 1, channelCountMode: "explicit",
      });
      c.node.port.onmessage = (e) => sendBlock(c, e.data);
      c.source.connect(c.node);
      if (c.ctx.state === "suspended") await c.ctx.resume();
    } catch (err) {
      if (!c.ended) {
        console.error(err);
        end(c, { error: "The call could not start its audio." });
      }
    }
  }

  function toggleMute() {
    const c = call;
    if (!c) return;
    c.muted = !c.muted;
    paintMute(c.muted);
    announce(c.muted ? "Microphone muted." : "Microphone on.");
  }

  button.addEventListener("click", () => {
    start().catch(showError);
  });
  muteBtn.addEventListener("click", toggleMute);
  hangupBtn.addEventListener("click", () => {
    if (call) end(call);
    else closePanel(); // the panel of a call that already ended
  });
  panel.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !call && !panel.hidden) closePanel();
  });
  window.addEventListener("pagehide", () => {
    leaving = true;
    if (call) end(call);
  });

  return {
    /** Show the Call button where the server can both hear and speak. */
    async init() {
      let status;
      try {
        status = await get("/voice/status");
      } catch {
        return; // no calls; the chat works without them
      }
      button.hidden = !(status && status.speech && status.transcription) || typeof window.WebSocket !== "function";
    },
    /** True while a call is connecting or connected. */
    active: () => call !== null,
  };
}
