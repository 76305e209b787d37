// Voice in the chat: any reply read aloud in its character's voice, and push-to-talk that
// writes what the person said into the composer (never sent on its own).
import { API, ApiError, get, loginUrl, upload } from "./api.js";
import { h, setIcon, showError } from "./ui.js";

const SHORTEST_MS = 400; // a press shorter than this is a tap, not speech
const KEPT = 24; // clips kept in this page, so a replay starts at once

/** The API's error for a response that is not audio (the server answers errors as JSON). */
async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON
  }
  const err = body && typeof body === "object" ? body.error : null;
  if (err && typeof err.message === "string") {
    return new ApiError(response.status, err.code || "error", err.message, err);
  }
  return new ApiError(response.status, `http_${response.status}`, response.status >= 500
    ? "The server had a problem. Please try again."
    : `Request failed (${response.status}).`);
}

/** Audio from the API as a Blob; a failure as an ApiError, like every other call. */
export async function fetchAudio(path, init = {}) {
  let response;
  try {
    response = await fetch(`${API}${path}`, { credentials: "same-origin", ...init });
  } catch (e) {
    if (e && e.name === "AbortError") throw e;
    throw new ApiError(0, "network", "Cannot reach the server. Check your connection and try again.");
  }
  if (response.status === 401) {
    window.location.assign(loginUrl());
    return new Promise(() => {});
  }
  if (!response.ok) throw await errorFrom(response);
  return response.blob();
}

/** A person-readable reason for a microphone that would not start. */
export function micError(err) {
  const name = err && err.name;
  if (name === "NotAllowedError" || name === "SecurityError") {
    return "Afterdark may not use your microphone. Allow it in your browser’s site settings, then try again.";
  }
  if (name === "NotFoundError" || name === "OverconstrainedError") return "No microphone was found.";
  if (name === "NotReadableError") return "Your microphone is busy with another app.";
  return "The microphone could not be started.";
}

function recorderType() {
  for (const type of ["audio/webm;codecs=opus", "audio/webm", "audio/ogg;codecs=opus", "audio/mp4"]) {
    if (window.MediaRecorder.isTypeSupported?.(type)) return type;
  }
  return "";
}

/**
 * Wire the chat's voice. `list` holds the messages, `input` is the composer's text box,
 * `mic` the push-to-talk button; `announce(text)` speaks through the chat's live region,
 * `outOfSparks(err)` shows a 402, `onReady()` re-renders once the voice status is known.
 */
export function chatVoice({ list, input, mic, announce, outOfSparks, onReady }) {
  const status = { speech: false, transcription: false };
  const clips = new Map(); // "id|content" -> object URL
  let loading = null; // {id, ctrl}
  let playing = null; // {id, audio}

  const fail = (err) => {
    if (err && err.name === "AbortError") return;
    if (err && err.status === 402) outOfSparks(err);
    else showError(err);
  };

  // ---------- read aloud ----------

  function paintButton(button) {
    const id = Number(button.dataset.speakId);
    const isPlaying = playing !== null && playing.id === id;
    const isLoading = loading !== null && loading.id === id;
    const label = isPlaying ? "Stop reading" : isLoading ? "Getting the voice ready…" : "Read aloud";
    setIcon(button, isPlaying ? "stop" : "speaker");
    button.setAttribute("aria-label", label);
    button.title = label;
    button.classList.toggle("is-playing", isPlaying);
    button.classList.toggle("is-loading", isLoading);
    if (isLoading) button.setAttribute("aria-busy", "true");
    else button.removeAttribute("aria-busy");
  }

  function paint() {
    for (const button of list.querySelectorAll('[data-testid="message-speak"]')) paintButton(button);
  }

  function stopPlaying() {
    if (playing) {
      playing.audio.pause();
      playing = null;
    }
    if (loading) {
      loading.ctrl.abort();
      loading = null;
    }
    paint();
  }

  async function clipFor(m, signal) {
    const key = `${m.id}|${m.content}`;
    if (clips.has(key)) return clips.get(key);
    // no-cache: an edited message keeps its address but not its words.
    const blob = await fetchAudio(`/messages/${m.id}/speech`, { signal, cache: "no-cache" });
    const src = URL.createObjectURL(blob);
    clips.set(key, src);
    if (clips.size > KEPT) {
      const [oldest, oldSrc] = clips.entries().next().value;
      clips.delete(oldest);
      URL.revokeObjectURL(oldSrc);
    }
    return src;
  }

  async function toggle(m) {
    const mine = (playing && playing.id === m.id) || (loading && loading.id === m.id);
    stopPlaying(); // one message at a time
    if (mine) {
      announce("Stopped reading.");
      return;
    }
    const ctrl = new AbortController();
    loading = { id: m.id, ctrl };
    paint();
    try {
      const src = await clipFor(m, ctrl.signal);
      if (!loading || loading.ctrl !== ctrl) return;
      loading = null;
      const audio = new Audio(src);
      const done = () => {
        if (playing && playing.audio === audio) {
          playing = null;
          paint();
        }
      };
      audio.addEventListener("ended", done);
      audio.addEventListener("error", done);
      playing = { id: m.id, audio };
      paint();
      await audio.play();
    } catch (err) {
      if (loading && loading.ctrl === ctrl) loading = null;
      if (playing && playing.id === m.id) playing = null;
      paint();
      fail(err);
    }
  }

  /** The "Read aloud" button for a message, or null where there is nothing to read. */
  function speakButton(m) {
    if (!status.speech || m.role === "user" || !m.content || m.status === "streaming") return null;
    const button = h("button", {
      type: "button", class: "icon-btn icon-btn-sm speak-btn", "data-testid": "message-speak",
      "data-speak-id": m.id, onclick: () => toggle(m),
    });
    paintButton(button);
    return button;
  }

  // ---------- push-to-talk ----------

  const rec = { stream: null, recorder: null, chunks: [], started: 0, stopWanted: false, starting: false };

  function setPressed(on) {
    mic.setAttribute("aria-pressed", on ? "true" : "false");
    mic.classList.toggle("is-recording", on);
    const label = on ? "Stop and add what I said" : "Hold to talk";
    mic.setAttribute("aria-label", label);
    mic.title = on ? label : "Hold to talk (or press Space to start and stop)";
  }

  function release() {
    if (rec.stream) for (const track of rec.stream.getTracks()) track.stop();
    rec.stream = null;
    rec.recorder = null;
    setPressed(false);
  }

  async function startRecording() {
    if (rec.recorder || rec.starting || mic.getAttribute("aria-busy") === "true") return;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      showError(new Error("Push-to-talk needs a microphone and a secure (https) connection."));
      return;
    }
    rec.starting = true;
    rec.stopWanted = false;
    setPressed(true);
    try {
      rec.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (err) {
      rec.starting = false;
      release();
      const text = micError(err);
      announce(text);
      showError(new Error(text));
      return;
    }
    rec.starting = false;
    const type = recorderType();
    const recorder = new MediaRecorder(rec.stream, type ? { mimeType: type } : undefined);
    rec.recorder = recorder;
    rec.chunks = [];
    recorder.addEventListener("dataavailable", (e) => {
      if (e.data && e.data.size) rec.chunks.push(e.data);
    });
    recorder.addEventListener("stop", () => finish(recorder));
    recorder.start();
    rec.started = performance.now();
    announce("Listening…");
    if (rec.stopWanted) stopRecording();
  }

  function stopRecording() {
    if (rec.starting) {
      rec.stopWanted = true; // stop as soon as the microphone is on
      return;
    }
    if (rec.recorder && rec.recorder.state !== "inactive") rec.recorder.stop();
  }

  async function finish(recorder) {
    const heldFor = performance.now() - rec.started;
    const type = (recorder.mimeType || "audio/webm").split(";")[0];
    const blob = new Blob(rec.chunks, { type });
    rec.chunks = [];
    release();
    if (heldFor < SHORTEST_MS || !blob.size) {
      announce("Hold the button while you talk, or press Space to start and again to stop.");
      return;
    }
    announce("Transcribing…");
    mic.setAttribute("aria-busy", "true");
    mic.classList.add("is-loading");
    try {
      const ext = type.includes("ogg") ? "ogg" : type.includes("mp4") ? "m4a" : "webm";
      const said = await upload("POST", "/voice/transcribe", { audio: new File([blob], `speech.${ext}`, { type }) });
      const text = (said.text || "").trim();
      if (!text) {
        announce("Nothing was heard. Try again, a little closer to the microphone.");
        return;
      }
      const before = input.value.replace(/\s+$/, "");
      input.value = before ? `${before} ${text}` : text;
      input.dispatchEvent(new Event("input", { bubbles: true }));
      input.focus();
      input.setSelectionRange(input.value.length, input.value.length);
      announce(`Added to your message: ${text}`);
    } catch (err) {
      announce(err && err.message ? err.message : "Could not transcribe that.");
      fail(err);
    } finally {
      mic.removeAttribute("aria-busy");
      mic.classList.remove("is-loading");
    }
  }

  // Hold with a finger or the mouse; Space or Enter (a click without a pointer) toggles.
  mic.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    mic.setPointerCapture?.(e.pointerId);
    startRecording();
  });
  const letGo = () => {
    if (rec.recorder || rec.starting) stopRecording();
  };
  mic.addEventListener("pointerup", letGo);
  mic.addEventListener("pointercancel", letGo);
  mic.addEventListener("click", (e) => {
    if (e.detail !== 0) return; // a pointer press: handled above
    if (rec.recorder || rec.starting) stopRecording();
    else startRecording();
  });
  mic.addEventListener("contextmenu", (e) => e.preventDefault()); // a long press on phones

  window.addEventListener("pagehide", () => {
    stopPlaying();
    if (rec.recorder && rec.recorder.state !== "inactive") rec.recorder.stop();
    release();
  });

  return {
    speakButton,
    stopPlaying,
    /** Ask what this server can do with voice; shows the controls it supports. */
    async start() {
      try {
        Object.assign(status, await get("/voice/status"));
      } catch {
        return; // voice stays hidden; the chat works without it
      }
      mic.hidden = !status.transcription || typeof window.MediaRecorder !== "function";
      setPressed(false);
      if (status.speech) onReady();
    },
  };
}
