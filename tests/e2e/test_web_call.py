"""The live voice call in the chat page: Chromium's fake microphone says a question once, the
server (the real embedded Whisper and Piper, the stand-in model) hears it, answers, and the
answer plays in the page; the turns land in the chat."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import time
import wave
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from e2e_helpers import assert_fits_phone, mic_chromium, mic_recording, sign_up
from playwright.sync_api import expect

from conftest import CHROMIUM, CHROMIUM_ARGS, DESKTOP, SCREENSHOTS

pytestmark = pytest.mark.e2e

QUESTION = "what time does the ferry leave"
KEY_WORDS = ("what", "time", "ferry", "leave")
REPLY = "The last ferry leaves at nine tonight. Bring a warm coat, the wind is sharp on deck."
MODEL_WAIT = 60_000  # ms: the first transcription and speech load their models
PHONE_WIDE = {"width": 390, "height": 844}

# Watches the page's microphone streams, audio contexts and sockets, so a test can see that a
# hang-up really lets go of them.
WATCH = """
(() => {
  const seen = { streams: [], contexts: [], sockets: [] };
  window.__callWatch = seen;
  const media = navigator.mediaDevices;
  if (media && media.getUserMedia) {
    const getUserMedia = media.getUserMedia.bind(media);
    media.getUserMedia = async (constraints) => {
      const stream = await getUserMedia(constraints);
      seen.streams.push({ stream, constraints });
      return stream;
    };
  }
  const Context = window.AudioContext;
  window.AudioContext = class extends Context {
    constructor(options) {
      super(options);
      seen.contexts.push(this);
    }
  };
  const Socket = window.WebSocket;
  window.WebSocket = class extends Socket {
    constructor(...args) {
      super(...args);
      seen.sockets.push(this);
    }
  };
})();
"""

RELEASED = """() => {
  const seen = window.__callWatch;
  return {
    streams: seen.streams.length,
    live_tracks: seen.streams.flatMap((s) => s.stream.getTracks())
      .filter((t) => t.readyState !== "ended").length,
    contexts: seen.contexts.map((c) => c.state),
    sockets: seen.sockets.map((s) => s.readyState),
    constraints: seen.streams.map((s) => s.constraints),
  };
}"""


@pytest.fixture(scope="module")
def call_browser(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if shutil.which("espeak-ng") is None:
        pytest.skip("the call test needs espeak-ng to make what the microphone hears")
    # Said once (no loop): 0.5 s of quiet before the question and 3 s after it.
    wav = mic_recording(
        tmp_path_factory.mktemp("call") / "ferry.wav", QUESTION, before=0.5, after=3.0, speed=140
    )
    instance = mic_chromium(browser, wav, CHROMIUM, CHROMIUM_ARGS, once=True)
    yield instance
    instance.close()


def _log_socket(socket: Any, frames: list[str]) -> None:
    start = time.monotonic()

    def note(way: str, payload: str | bytes) -> None:
        shown = payload if isinstance(payload, str) else f"<{len(payload)} bytes>"
        if way == ">" and isinstance(payload, bytes) and frames and frames[-1].endswith("bytes>"):
            return  # the microphone's frames: one line per run of them
        frames.append(f"{time.monotonic() - start:7.2f} {way} {shown[:300]}")

    socket.on("framesent", lambda payload: note(">", payload))
    socket.on("framereceived", lambda payload: note("<", payload))
    socket.on("close", lambda _: frames.append(f"{time.monotonic() - start:7.2f} closed"))


def _call_page(
    request: pytest.FixtureRequest, call_browser: Any, server_url: str, **options: Any
) -> Iterator[Any]:
    context = call_browser.new_context(base_url=server_url, permissions=["microphone"], **options)
    context.set_default_timeout(10_000)
    context.add_init_script(WATCH)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    frames: list[str] = []  # the call socket both ways, to tell a failure's story
    page.on("websocket", lambda socket: _log_socket(socket, frames))
    yield page
    failed = getattr(request.node, "rep_call", None)
    if (failed is not None and failed.failed) or os.environ.get("E2E_CALL_LOG"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (SCREENSHOTS / f"{request.node.name}-socket.log").write_text("\n".join(frames) + "\n")
    if failed is not None and failed.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}-failure.png"), full_page=True)
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def call_page(request: pytest.FixtureRequest, call_browser: Any, server_url: str) -> Iterator[Any]:
    yield from _call_page(request, call_browser, server_url, viewport=DESKTOP)


@pytest.fixture
def call_phone(request: pytest.FixtureRequest, call_browser: Any, server_url: str) -> Iterator[Any]:
    yield from _call_page(
        request, call_browser, server_url, viewport=PHONE_WIDE, is_mobile=True, has_touch=True
    )


def start_chat(page: Any) -> None:
    """Sign up, open the first character and start a chat with it (its greeting first)."""
    sign_up(page)
    expect(page).to_have_url(re.compile(r"/characters$"))
    page.get_by_test_id("character-card").first.click()
    expect(page).to_have_url(re.compile(r"/characters/\d+$"))
    expect(page.get_by_test_id("character-name")).not_to_have_text("…")
    page.get_by_test_id("start-chat").click()
    expect(page).to_have_url(re.compile(r"/chat/\d+$"))
    expect(page.get_by_test_id("messages")).to_have_attribute("aria-busy", "false")


def heard(text: str) -> list[str]:
    """The question's key words found in a transcript (Whisper tiny may miss one)."""
    words = re.findall(r"[a-z']+", text.lower())
    return [w for w in KEY_WORDS if any(found.startswith(w) for found in words)]


def test_a_spoken_question_is_answered_aloud(call_page: Any, standin: Any) -> None:
    page = call_page
    standin.reply = REPLY
    start_chat(page)
    name = page.get_by_test_id("chat-character-name").inner_text()
    messages = page.get_by_test_id("message")
    before = messages.count()

    button = page.get_by_test_id("call-button")
    expect(button).to_be_visible()
    expect(button).to_have_attribute("aria-label", "Start a voice call")
    button.click()
    panel = page.get_by_test_id("call-panel")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text(name)
    state = page.get_by_test_id("call-state")
    expect(state).to_have_text(
        re.compile(r"^(Listening|Hearing you|Thinking|Speaking)…$"), timeout=MODEL_WAIT
    )

    # The question, as the server heard it, then the character's answer.
    transcript = page.get_by_test_id("call-transcript")
    said = transcript.locator('[data-role="user"]').first
    expect(said).to_contain_text(re.compile(r"[a-z]", re.IGNORECASE), timeout=MODEL_WAIT)
    question = said.get_by_test_id("call-turn-text").inner_text()
    assert len(heard(question)) >= 2, question
    answer = transcript.locator('[data-role="char"]').first
    expect(answer).to_contain_text("warm coat", timeout=MODEL_WAIT)

    # It was heard, not only read: the clips reached the page and played to the end.
    expect(panel).to_have_attribute(
        "data-clips-played", re.compile(r"^[1-9]\d*$"), timeout=MODEL_WAIT
    )
    expect(state).to_have_text("Listening…", timeout=MODEL_WAIT)
    assert float(panel.get_attribute("data-seconds-played") or 0) > 1.0

    # The latency of the turn, in milliseconds per stage.
    latency = page.get_by_test_id("call-latency")
    latency.locator("summary").click()
    row = page.get_by_test_id("call-latency-row").first
    expect(row).to_be_visible()
    expect(row.locator("th")).to_have_text("1")
    for key in ("end_of_speech", "transcript", "first_audio", "total"):
        expect(row.locator(f'td[data-key="{key}"]')).to_have_text(re.compile(r"^\d+$"))

    # Meanwhile the chat shows the turn like a typed one.
    expect(messages).to_have_count(before + 2)
    page.get_by_test_id("call-hangup").click()
    expect(panel).to_be_hidden()
    expect(button).to_be_enabled()
    expect(messages).to_have_count(before + 2)
    user_message = messages.nth(before)
    expect(user_message).to_have_attribute("data-role", "user")
    assert heard(user_message.get_by_test_id("message-text").inner_text()) == heard(question)
    reply = messages.nth(before + 1)
    expect(reply).to_have_attribute("data-role", "assistant")
    expect(reply.get_by_test_id("message-text")).to_have_text(REPLY)
    expect(reply).to_have_attribute("data-status", "complete")

    released = page.evaluate(RELEASED)
    assert released["live_tracks"] == 0, released
    assert released["constraints"][-1]["audio"] == {
        "echoCancellation": True,
        "noiseSuppression": True,
        "autoGainControl": True,
    }
    assert set(released["contexts"]) == {"closed"}, released


def test_hang_up_ends_the_call_on_a_phone(call_phone: Any) -> None:
    page = call_phone
    start_chat(page)
    button = page.get_by_test_id("call-button")
    panel = page.get_by_test_id("call-panel")
    state = page.get_by_test_id("call-state")

    for attempt in range(2):
        button.click()
        expect(panel).to_be_visible()
        expect(button).to_be_disabled()
        expect(state).to_have_text(
            re.compile(r"^(Listening|Hearing you|Thinking|Speaking)…$"), timeout=MODEL_WAIT
        )
        # The panel takes the composer's place while the call adds the turns.
        expect(page.get_by_test_id("composer")).to_be_hidden()

        mute = page.get_by_test_id("call-mute")
        expect(mute).to_have_attribute("aria-pressed", "false")
        mute.click()
        expect(mute).to_have_attribute("aria-pressed", "true")
        expect(mute).to_have_attribute("aria-label", "Mute my microphone")

        if attempt == 0:
            # It fits a 390 px phone: nothing sideways, controls big enough for a thumb.
            page.get_by_test_id("call-latency").locator("summary").click()
            assert_fits_phone(page, "#call-panel button, #call-panel summary, .chat-head button")
            box = panel.bounding_box()
            assert box is not None
            assert box["x"] >= 0
            assert box["x"] + box["width"] <= PHONE_WIDE["width"]

        page.get_by_test_id("call-hangup").click()
        expect(panel).to_be_hidden()
        expect(state).to_be_hidden()
        expect(button).to_be_enabled()
        expect(page.get_by_test_id("composer")).to_be_visible()
        expect(page.get_by_test_id("send")).to_be_enabled()
        page.wait_for_function(
            """() => window.__callWatch.sockets.every((s) => s.readyState === WebSocket.CLOSED)
                && window.__callWatch.contexts.every((c) => c.state === "closed")""",
            timeout=5_000,
        )
        released = page.evaluate(RELEASED)
        assert released["streams"] == attempt + 1, released
        assert released["live_tracks"] == 0, released


# ---------- the page against a scripted server: the protocol's harder turns ----------


def _tone(seconds: float, rate: int = 22_050) -> bytes:
    """A soft 220 Hz tone as a WAV file, the shape of a clip the server sends."""
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.2 * 32767 * np.sin(2 * np.pi * 220 * t)).astype(np.int16)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return out.getvalue()


class ScriptedServer:
    """Stands in for the call socket in the page (Playwright's WebSocket routing)."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.routes: list[Any] = []
        self.received: list[str | bytes] = []
        page.route_web_socket(re.compile(r"/api/v1/conversations/\d+/call$"), self._connect)

    def _connect(self, route: Any) -> None:
        self.received.clear()
        self.routes.append(route)
        route.on_message(lambda message: self.received.append(message))

    def texts(self) -> list[dict[str, Any]]:
        return [json.loads(m) for m in self.received if isinstance(m, str)]

    def frames(self) -> list[bytes]:
        return [m for m in self.received if isinstance(m, bytes)]

    def wait(self, ready: Any, what: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {self.texts()}"
            self.page.wait_for_timeout(50)  # lets Playwright deliver the socket's messages

    def send(self, event: dict[str, Any], audio: bytes | None = None) -> None:
        self.routes[-1].send(json.dumps(event))
        if audio is not None:
            self.routes[-1].send(audio)

    def clip(self, message_id: int, seq: int, seconds: float) -> None:
        wav = _tone(seconds)
        self.send(
            {
                "type": "audio",
                "seq": seq,
                "message_id": message_id,
                "text": "Words.",
                "seconds": seconds,
                "media_type": "audio/wav",
                "bytes": len(wav),
            },
            wav,
        )


def test_the_call_follows_the_protocol(call_page: Any) -> None:
    page = call_page
    server = ScriptedServer(page)
    start_chat(page)
    page.get_by_test_id("call-button").click()
    panel = page.get_by_test_id("call-panel")
    state = page.get_by_test_id("call-state")
    expect(state).to_have_text("Connecting…")

    # First the start message with the audio context's rate, then ~40 ms of 16-bit PCM a frame.
    server.wait(lambda: len(server.frames()) >= 3, "microphone frames")
    start = server.texts()[0]
    rate = page.evaluate("() => window.__callWatch.contexts[0].sampleRate")
    assert start == {"type": "start", "sample_rate": rate}
    assert isinstance(server.received[0], str)
    block = round(rate * 0.04)
    assert {len(f) for f in server.frames()} == {2 * block}

    server.send({"type": "ready", "conversation_id": 1, "character": "Ines", "silence_ms": 500})
    expect(page.get_by_test_id("call-name")).to_have_text("Ines")
    for name, shown in [
        ("listening", "Listening…"),
        ("hearing", "Hearing you…"),
        ("thinking", "Thinking…"),
    ]:
        server.send({"type": "state", "state": name})
        expect(state).to_have_text(shown)

    # Muted: silence goes out (the server still hears the turn end); unmuted: sound again.
    mute = page.get_by_test_id("call-mute")
    mute.click()
    expect(mute).to_have_attribute("aria-pressed", "true")
    page.wait_for_timeout(200)
    sent = len(server.frames())
    page.wait_for_timeout(400)
    quiet = server.frames()[sent:]
    assert len(quiet) >= 3
    assert all(frame == bytes(len(frame)) for frame in quiet)
    mute.click()
    expect(mute).to_have_attribute("aria-pressed", "false")
    server.wait(lambda: len(server.frames()) > sent + len(quiet) + 2, "frames after unmuting")

    transcript = page.get_by_test_id("call-transcript")
    server.send({"type": "transcript", "text": "Is the harbour open?", "message_id": 901})
    expect(transcript.locator('[data-role="user"]')).to_have_text("You: Is the harbour open?")
    for delta in ("Yes, ", "it opens ", "at dawn."):
        server.send({"type": "reply", "message_id": 902, "text": delta})
    expect(transcript.locator('[data-role="char"]')).to_have_text("Ines: Yes, it opens at dawn.")

    # Two long clips, then the user talks over them: both stop at once, later ones are dropped.
    server.send({"type": "state", "state": "speaking"})
    expect(state).to_have_text("Speaking…")
    server.clip(902, 0, 2.0)
    server.clip(902, 1, 2.0)
    page.wait_for_timeout(500)
    server.send({"type": "barge_in", "message_id": 902})
    server.clip(902, 2, 0.3)
    page.wait_for_timeout(2_500)  # the first clip would have ended by now
    expect(panel).to_have_attribute("data-clips-played", "0")
    assert 0.2 < float(panel.get_attribute("data-seconds-played") or 0) < 1.5
    assert not [t for t in server.texts() if t.get("type") == "played"]
    expect(transcript.locator('[data-role="char"]')).to_have_attribute("data-interrupted", "true")

    # The next reply plays to its end, and the page says when its queue ran dry.
    server.send({"type": "reply", "message_id": 904, "text": "Go on, then."})
    server.clip(904, 0, 0.4)
    server.clip(904, 1, 0.3)
    server.send({"type": "reply_done", "message_id": 904, "status": "done", "error": None,
                 "content": "Go on, then."})  # fmt: skip
    expect(panel).to_have_attribute("data-clips-played", "2", timeout=5_000)
    played = {"type": "played", "message_id": 904, "seq": 1}  # the last clip that ran
    server.wait(lambda: played in server.texts(), "played")
    assert [t for t in server.texts() if t.get("type") == "played"] == [played]
    ms = {"end_of_speech": 400, "transcript": 600, "first_token": 700, "first_audio": 820,
          "llm": None, "total": 820, "without_llm": None}  # fmt: skip
    server.send({"type": "latency", "turn": 1, "ms": ms})
    page.get_by_test_id("call-latency").locator("summary").click()
    expect(page.get_by_test_id("call-latency-row")).to_have_text("1400600700820–820–")

    # A passing problem is shown in the panel; a fatal one ends the call and says why.
    error = page.get_by_test_id("call-error")
    server.send({"type": "error", "code": "speech_failed", "message": "A clip was lost.",
                 "fatal": False})  # fmt: skip
    expect(error).to_have_text("A clip was lost.")
    expect(state).to_have_text("Speaking…")
    server.send({"type": "error", "code": "payment_required", "fatal": True,
                 "message": "You are out of Sparks."})  # fmt: skip
    server.routes[-1].close(code=4402, reason="out of Sparks")
    expect(error).to_have_text("You are out of Sparks.")
    expect(state).to_have_text("Call ended.")
    expect(page.get_by_test_id("pricing-link")).to_be_visible()
    hangup = page.get_by_test_id("call-hangup")
    expect(hangup).to_have_text("Close")
    expect(page.get_by_test_id("call-button")).to_be_enabled()
    released = page.evaluate(RELEASED)
    assert released["live_tracks"] == 0, released
    hangup.click()
    expect(panel).to_be_hidden()

    # A socket that drops without a word says so.
    page.get_by_test_id("call-button").click()
    server.wait(lambda: server.texts()[:1] == [{"type": "start", "sample_rate": rate}], "start")
    server.send({"type": "ready", "conversation_id": 1, "character": "Ines", "silence_ms": 500})
    expect(state).to_have_text("Listening…")
    expect(error).to_be_hidden()
    server.routes[-1].close(code=1011, reason="")
    expect(error).to_have_text(re.compile(r"^The call was cut off\."))
    expect(state).to_have_text("Call ended.")
    expect(page.get_by_test_id("composer")).to_be_visible()
