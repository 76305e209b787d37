// The Studio's voice slot: which voice a saved character speaks with, how fast and how high,
// a free preview, and each change saved at once (apart from the character's own Save).
import { csrfHeaders, get, put } from "./api.js";
import { fetchAudio } from "./chatvoice.js";
import { setIcon, showError } from "./ui.js";

const $ = (elementId) => document.getElementById(elementId);

const speedText = (v) => `${Number(v).toFixed(2)}×`;
const pitchText = (v) => {
  const n = Number(v);
  const unit = Math.abs(n) === 1 ? "semitone" : "semitones";
  return `${n > 0 ? "+" : ""}${n} ${unit}`;
};

/** Show the slot for character `id` (null before the first save); `canEdit` for the owner. */
export async function voiceSlot(id, canEdit) {
  const fields = $("studio-voice-fields");
  const note = $("studio-voice-new");
  const select = $("studio-voice");
  const speed = $("studio-voice-speed");
  const pitch = $("studio-voice-pitch");
  const previewBtn = $("studio-voice-preview");
  const state = $("studio-voice-state");
  if (!id) return; // "Save the character first." stays

  const [status, choice] = await Promise.all([get("/voice/status"), get(`/characters/${id}/voice`)]);
  if (!status.speech || !status.voices.length) {
    note.textContent = "Reading aloud is turned off on this server.";
    return;
  }
  select.replaceChildren(...status.voices.map((v) => {
    const option = document.createElement("option");
    option.value = v.id;
    option.textContent = v.language ? `${v.name} (${v.language})` : v.name;
    return option;
  }));
  select.value = choice.voice || status.voices[0].id;
  speed.value = String(choice.speed);
  pitch.value = String(choice.pitch);
  const showValues = () => {
    $("studio-voice-speed-value").textContent = speedText(speed.value);
    $("studio-voice-pitch-value").textContent = pitchText(pitch.value);
    speed.setAttribute("aria-valuetext", speedText(speed.value));
    pitch.setAttribute("aria-valuetext", pitchText(pitch.value));
  };
  showValues();
  note.hidden = true;
  fields.hidden = false;
  if (!canEdit) {
    // Someone else's character: shown as it is; the Studio's fieldset is disabled.
    $("hint-voice").textContent = "How the character sounds when replies are read aloud.";
  }

  const current = () => ({ voice: select.value, speed: Number(speed.value), pitch: Number(pitch.value) });

  // ---------- saving: each change, the latest one last ----------

  let saving = Promise.resolve();
  let round = 0;
  function save() {
    if (!canEdit) return;
    const mine = ++round;
    const wanted = current();
    state.textContent = "Saving…";
    saving = saving.then(async () => {
      if (mine !== round) return; // a newer change is on its way
      try {
        await put(`/characters/${id}/voice`, wanted);
        if (mine === round) state.textContent = "Voice saved.";
      } catch (err) {
        state.textContent = "Not saved.";
        showError(err);
      }
    });
  }

  speed.addEventListener("input", showValues);
  pitch.addEventListener("input", showValues);
  for (const el of [select, speed, pitch]) el.addEventListener("change", save);

  // ---------- preview ----------

  let audio = null;
  let src = null;
  let ctrl = null;
  const label = previewBtn.querySelector(".voice-preview-label");
  const icon = previewBtn.querySelector("[data-icon]");
  function paint(mode) {
    // mode: "idle" | "loading" | "playing"
    label.textContent = mode === "playing" ? "Stop" : mode === "loading" ? "Preparing…" : "Preview";
    setIcon(icon, mode === "playing" ? "stop" : "speaker");
    if (mode === "loading") previewBtn.setAttribute("aria-busy", "true");
    else previewBtn.removeAttribute("aria-busy");
    previewBtn.classList.toggle("is-playing", mode === "playing");
  }
  function stop() {
    if (ctrl) ctrl.abort();
    ctrl = null;
    if (audio) audio.pause();
    audio = null;
    if (src) URL.revokeObjectURL(src);
    src = null;
    paint("idle");
  }
  previewBtn.addEventListener("click", async () => {
    if (audio || ctrl) {
      stop();
      return;
    }
    const mine = new AbortController();
    ctrl = mine;
    paint("loading");
    try {
      const blob = await fetchAudio("/voice/preview", {
        method: "POST",
        headers: { "Content-Type": "application/json", ...csrfHeaders("POST") },
        body: JSON.stringify(current()),
        signal: mine.signal,
      });
      if (ctrl !== mine) return;
      ctrl = null;
      src = URL.createObjectURL(blob);
      const playing = new Audio(src);
      audio = playing;
      const done = () => { if (audio === playing) stop(); };
      playing.addEventListener("ended", done);
      playing.addEventListener("error", done);
      paint("playing");
      await playing.play();
    } catch (err) {
      if (ctrl === mine || ctrl === null) stop();
      if (err && err.name !== "AbortError") showError(err);
    }
  });
}
