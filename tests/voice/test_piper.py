"""The ``embedded`` speech backend speaking with the packaged Piper voice, for real."""

from __future__ import annotations

import asyncio
import io
import json
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from afterdark.voice import piper as piper_module
from afterdark.voice.base import (
    Speech,
    SpeechBackend,
    SpeechRequest,
    VoiceInfo,
    VoiceResponseError,
    VoiceUnavailableError,
)
from afterdark.voice.piper import PACKAGED_ID, PiperSpeech, _packaged
from afterdark.voice.registry import make_speech
from afterdark.voice.settings import VoiceSettings

pytestmark = pytest.mark.slow

SENTENCE = "The lighthouse keeper lit the lamp at dusk."


def settings(**options: Any) -> VoiceSettings:
    # One thread: the tests share the cores with other workers.
    return VoiceSettings(threads=1, **options)


@pytest.fixture(scope="module")
def backend() -> Iterator[PiperSpeech]:
    """One backend per module, so the voice loads once."""
    speech = PiperSpeech(settings())
    yield speech
    asyncio.run(speech.close())


@pytest.fixture(scope="module")
def plain(backend: PiperSpeech) -> Speech:
    """The sentence at speed 1 and pitch 0, made once for the comparisons."""
    return asyncio.run(backend.speak(SpeechRequest(SENTENCE)))


def samples(speech: Speech) -> tuple[np.ndarray[Any, Any], int]:
    """The WAV's samples as floats in [-1, 1] and its rate, checking it is 16-bit mono."""
    with wave.open(io.BytesIO(speech.audio), "rb") as wav:
        assert wav.getnchannels() == 1
        assert wav.getsampwidth() == 2
        rate = wav.getframerate()
        pcm = wav.readframes(wav.getnframes())
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0, rate


def centroid(audio: np.ndarray[Any, Any], rate: int) -> float:
    """The spectral centroid in Hz: where the energy of the spectrum balances."""
    power = np.abs(np.fft.rfft(audio)) ** 2
    frequencies = np.fft.rfftfreq(len(audio), 1 / rate)
    return float((frequencies * power).sum() / power.sum())


def test_the_packaged_voice_comes_first() -> None:
    voices = PiperSpeech(settings()).voices()

    assert voices == [VoiceInfo("joe", "Joe (US English, packaged)", "en")]


def test_the_registry_builds_it() -> None:
    speech = make_speech(settings())

    assert isinstance(speech, PiperSpeech)
    assert isinstance(speech, SpeechBackend)


def test_a_sentence_is_spoken(plain: Speech) -> None:
    audio, rate = samples(plain)
    rms = float(np.sqrt(np.mean(audio**2)))

    assert plain.media_type == "audio/wav"
    assert rate == 22050
    assert plain.seconds == pytest.approx(len(audio) / rate)
    assert 0.8 < plain.seconds < 6.0
    assert rms > 0.03  # speech, not silence or a click


async def test_the_default_voice_is_the_packaged_one(backend: PiperSpeech) -> None:
    speech = await backend.speak(SpeechRequest("Hello.", voice=PACKAGED_ID))
    default = await backend.speak(SpeechRequest("Hello."))

    assert samples(default)[1] == samples(speech)[1] == 22050
    assert default.seconds == pytest.approx(speech.seconds, rel=0.25)


async def test_speed_two_is_much_quicker(backend: PiperSpeech, plain: Speech) -> None:
    fast = await backend.speak(SpeechRequest(SENTENCE, speed=2.0))
    slow = await backend.speak(SpeechRequest(SENTENCE, speed=0.5))

    # Not 0.5 and 2: Piper keeps a frame or so between phonemes whatever the speed.
    assert 0.45 < fast.seconds / plain.seconds < 0.75
    assert 1.4 < slow.seconds / plain.seconds < 2.2


async def test_pitch_up_keeps_the_duration_and_raises_the_voice(
    backend: PiperSpeech, plain: Speech
) -> None:
    higher = await backend.speak(SpeechRequest(SENTENCE, pitch=4.0))
    lower = await backend.speak(SpeechRequest(SENTENCE, pitch=-4.0))
    plain_audio, rate = samples(plain)

    assert higher.seconds == pytest.approx(plain.seconds, rel=0.08)
    assert lower.seconds == pytest.approx(plain.seconds, rel=0.08)
    # Four semitones are a factor of 1.26 on every frequency, the spectrum's centre too.
    base = centroid(plain_audio, rate)
    assert centroid(samples(higher)[0], rate) / base > 1.12
    assert centroid(samples(lower)[0], rate) / base < 1 / 1.12


@pytest.fixture(scope="module")
def voices_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the packaged voice linked in as "narrator", and two broken voices."""
    folder = tmp_path_factory.mktemp("voices")
    packaged = _packaged().model
    config = json.loads(Path(f"{packaged}.json").read_text(encoding="utf-8"))
    config["dataset"] = "narrator"
    (folder / "narrator.onnx").symlink_to(packaged)  # 63 MB: linked, not copied
    (folder / "narrator.onnx.json").write_text(json.dumps(config), encoding="utf-8")
    (folder / "no_config.onnx").write_bytes(b"a model without its config")
    (folder / "garbled.onnx").write_bytes(b"not an onnx model")
    (folder / "garbled.onnx.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


async def test_a_voice_in_the_voices_dir_is_listed_and_speaks(voices_dir: Path) -> None:
    speech = PiperSpeech(settings(piper_voices_dir=voices_dir))
    try:
        voices = speech.voices()
        spoken = await speech.speak(SpeechRequest("Good evening.", voice="narrator"))
        loaded = list(speech._loaded)
    finally:
        await speech.close()

    assert [voice.id for voice in voices] == ["joe", "garbled", "narrator"]
    assert voices[2] == VoiceInfo("narrator", "Narrator (English, United States)", "en")
    assert samples(spoken)[0].size > 0
    assert 0.3 < spoken.seconds < 4.0
    assert loaded == ["narrator"]


async def test_an_unloadable_voice_is_unavailable(voices_dir: Path) -> None:
    speech = PiperSpeech(settings(piper_voices_dir=voices_dir))
    try:
        with pytest.raises(VoiceUnavailableError) as caught:
            await speech.speak(SpeechRequest("Hello.", voice="garbled"))
    finally:
        await speech.close()

    assert "garbled.onnx" in str(caught.value)


def test_the_least_recently_used_voice_is_unloaded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(piper_module, "LOADED_VOICES", 2)
    loads: list[str] = []

    def load(model: Path, threads: int) -> object:
        loads.append(model.stem)
        return object()

    monkeypatch.setattr(piper_module, "_load", load)
    speech = PiperSpeech(settings())
    entries = {
        name: piper_module._VoiceFile(VoiceInfo(name, name), Path(f"{name}.onnx"))
        for name in ("a", "b", "c")
    }

    for name in ("a", "b", "a", "c", "a", "b"):
        speech._voice(entries[name])

    assert loads == ["a", "b", "c", "b"]  # "b" was the least recent when "c" came
    assert list(speech._loaded) == ["a", "b"]


async def test_an_unknown_voice_names_the_voices(backend: PiperSpeech) -> None:
    with pytest.raises(VoiceResponseError) as caught:
        await backend.speak(SpeechRequest("Hello.", voice="nobody"))

    assert '"nobody"' in str(caught.value)
    assert "joe" in str(caught.value)


async def test_empty_text_is_refused(backend: PiperSpeech) -> None:
    with pytest.raises(VoiceResponseError, match="no text"):
        await backend.speak(SpeechRequest("  \n "))


async def test_too_long_text_is_refused_with_the_limit() -> None:
    speech = PiperSpeech(settings(max_speech_chars=100))

    with pytest.raises(VoiceResponseError) as caught:
        await speech.speak(SpeechRequest("word " * 30))

    assert "the limit is 100" in str(caught.value)
    assert speech._worker is None  # refused before any model work
