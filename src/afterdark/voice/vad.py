"""Voice activity detection for live calls: when the user starts talking and when a turn ends.

Speech probability comes from Silero VAD (v6), the small ONNX model faster-whisper ships in
its wheel, run one 32 ms frame at a time with its recurrent state carried between frames
(about 0.13 ms of CPU a frame). ``TurnDetector`` turns the probabilities into the events a
call acts on:

- ``Started``: the user has talked for ``start_ms`` (a cough or a click is not a turn);
- ``Paused``: ``pause_ms`` of silence after speech; it carries the utterance so far, so the
  caller can start transcribing before the turn is known to be over;
- ``Resumed``: speech again after a pause, before the turn ended (the transcript begun at the
  pause is out of date);
- ``Ended``: ``silence_ms`` of silence; the turn is the audio of the last ``Paused``.

A frame is speech at ``threshold`` or more and silence below ``threshold - 0.15``; in
between it keeps the previous state, so a word's soft ending does not flicker.
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from afterdark.voice.base import VoiceUnavailableError

RATE = 16_000
FRAME = 512  # samples: 32 ms, what Silero takes at 16 kHz
FRAME_MS = FRAME * 1000 // RATE
_CONTEXT = 64  # samples of the previous frame Silero sees before each frame

Samples = npt.NDArray[np.float32]


@functools.cache
def _session() -> Any:
    try:
        import onnxruntime  # type: ignore[import-untyped]
        from faster_whisper.utils import get_assets_path  # type: ignore[import-untyped]
    except ImportError as exc:
        raise VoiceUnavailableError(
            f"Live calls need faster-whisper and onnxruntime for voice detection ({exc})."
        ) from None
    path = Path(get_assets_path()) / "silero_vad_v6.onnx"
    if not path.is_file():
        raise VoiceUnavailableError(f"The Silero voice detector is missing at {path}.")
    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    options.log_severity_level = 4
    return onnxruntime.InferenceSession(
        str(path), providers=["CPUExecutionProvider"], sess_options=options
    )


def load() -> None:
    """Load the detector now (a call loads it on start, not on the first word)."""
    _session()


class Silero:
    """Speech probability of consecutive 32 ms frames of one audio stream."""

    _lock = threading.Lock()  # one shared session; runs are short

    def __init__(self) -> None:
        self._session = _session()
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)

    def probability(self, frame: Samples) -> float:
        """The chance that this frame (``FRAME`` samples at 16 kHz, in [-1, 1]) is speech."""
        window = np.concatenate([self._context, frame])[None, :]
        with self._lock:
            out, self._h, self._c = self._session.run(
                None, {"input": window, "h": self._h, "c": self._c}
            )
        self._context = frame[-_CONTEXT:]
        return float(np.asarray(out).ravel()[0])


@dataclass(frozen=True, slots=True)
class TurnSettings:
    threshold: float = 0.5
    start_ms: int = 160  # speech needed before it counts as the user talking
    pause_ms: int = 96  # silence after which the utterance is worth transcribing
    silence_ms: int = 480  # silence that ends the turn
    preroll_ms: int = 320  # audio kept from before the speech began (its first sound)
    max_turn_s: float = 30.0  # a turn ends here even without a pause


@dataclass(frozen=True, slots=True)
class Started:
    sample: int  # where the speech began, in samples since the call started


@dataclass(frozen=True, slots=True)
class Paused:
    audio: Samples  # the utterance so far
    speech_end: int  # the sample where the speech stopped


@dataclass(frozen=True, slots=True)
class Resumed:
    sample: int


@dataclass(frozen=True, slots=True)
class Ended:
    audio: Samples
    speech_end: int


Event = Started | Paused | Resumed | Ended


class TurnDetector:
    """Feeds 16 kHz audio through the detector and reports turns (see the module text)."""

    def __init__(self, settings: TurnSettings | None = None, model: Silero | None = None) -> None:
        self.settings = settings or TurnSettings()
        self.model = model or Silero()
        s = self.settings
        self._start_frames = max(1, s.start_ms // FRAME_MS)
        self._pause_frames = max(1, s.pause_ms // FRAME_MS)
        self._silence_frames = max(self._pause_frames + 1, s.silence_ms // FRAME_MS)
        self._max_frames = int(s.max_turn_s * 1000 // FRAME_MS)
        self._low = max(0.05, s.threshold - 0.15)
        self._pending = np.zeros(0, dtype=np.float32)  # samples short of a frame
        self._preroll: deque[Samples] = deque(maxlen=max(1, s.preroll_ms // FRAME_MS))
        self._utterance: list[Samples] = []  # frames of the turn being heard
        self._voiced = False  # the last frame's speech state (with hysteresis)
        self._run = 0  # consecutive frames in the current state
        self._talking = False  # a turn is being heard (Started was reported)
        self._paused_at: int | None = None  # frames of the utterance when Paused was reported
        self._frames = 0  # frames seen since the call began
        self._speech_end = 0  # sample where the last speech frame ended

    @property
    def talking(self) -> bool:
        return self._talking

    def feed(self, samples: Samples) -> list[Event]:
        """Events caused by these samples (16 kHz mono float32), in order."""
        audio = np.concatenate([self._pending, samples]) if self._pending.size else samples
        whole = len(audio) // FRAME * FRAME
        self._pending = audio[whole:].copy()
        events: list[Event] = []
        for start in range(0, whole, FRAME):
            self._frame(audio[start : start + FRAME], events)
        return events

    def _frame(self, frame: Samples, events: list[Event]) -> None:
        self._frames += 1
        p = self.model.probability(frame)
        voiced = p >= self.settings.threshold or (self._voiced and p >= self._low)
        self._run = self._run + 1 if voiced == self._voiced else 1
        self._voiced = voiced
        if voiced:
            self._speech_end = self._frames * FRAME
        if not self._talking:
            self._preroll.append(frame)
            if voiced and self._run >= self._start_frames:
                self._talking = True
                self._utterance = list(self._preroll)
                self._preroll.clear()
                self._paused_at = None
                events.append(Started((self._frames - self._run) * FRAME))
            return
        self._utterance.append(frame)
        if voiced:
            if self._paused_at is not None and self._run >= 2:
                self._paused_at = None
                events.append(Resumed(self._frames * FRAME))
        elif self._run == self._pause_frames and self._paused_at is None:
            self._paused_at = len(self._utterance)
            events.append(Paused(self._audio(), self._speech_end))
        if (not voiced and self._run >= self._silence_frames) or (
            len(self._utterance) >= self._max_frames
        ):
            if self._paused_at is None:  # cut at the longest turn: all of it is the turn
                self._paused_at = len(self._utterance)
            events.append(Ended(self._audio(), self._speech_end))
            self._talking = False
            self._utterance = []
            self._paused_at = None

    def _audio(self) -> Samples:
        end = self._paused_at if self._paused_at is not None else len(self._utterance)
        return np.concatenate(self._utterance[:end]) if end else np.zeros(0, dtype=np.float32)
