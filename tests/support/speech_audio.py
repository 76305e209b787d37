"""Speech for tests of live calls: sentences said by espeak-ng or the packaged Piper voice, as
16-bit mono PCM at any rate, with silence to put between them."""

from __future__ import annotations

import io
import subprocess
import wave

import numpy as np
import numpy.typing as npt

Pcm = npt.NDArray[np.int16]


def _pcm_of_wav(data: bytes, rate: int) -> Pcm:
    with wave.open(io.BytesIO(data), "rb") as wav:
        assert wav.getsampwidth() == 2
        source = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        if wav.getnchannels() > 1:
            samples = samples[:: wav.getnchannels()]
    if source == rate:
        return samples.astype(np.int16)
    positions = np.arange(int(len(samples) * rate / source)) * source / rate
    resampled = np.interp(positions, np.arange(len(samples)), samples.astype(np.float64))
    return resampled.clip(-32768, 32767).astype(np.int16)


def trimmed(pcm: Pcm, rate: int) -> Pcm:
    """The speech without the quiet a synthesiser puts around it (20 ms kept each side)."""
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 300)
    if not loud.size:
        return pcm
    keep = rate // 50
    return pcm[max(0, loud[0] - keep) : loud[-1] + keep]


def espeak(text: str, rate: int = 16_000) -> Pcm:
    """``text`` said by espeak-ng."""
    out = subprocess.run(
        ["espeak-ng", "-s", "150", "--stdout", text], capture_output=True, check=True, timeout=30
    ).stdout
    return trimmed(_pcm_of_wav(out, rate), rate)


def piper(text: str, rate: int = 16_000) -> Pcm:
    """``text`` said by the packaged Piper voice (the embedded speech backend's default)."""
    from afterdark.voice.piper import PACKAGED_ID, PiperSpeech
    from afterdark.voice.settings import VoiceSettings

    speech = PiperSpeech(VoiceSettings(threads=1))
    entry = speech._voice_files()[PACKAGED_ID]
    return trimmed(_pcm_of_wav(speech._synthesise(entry, text, 1.0, 0.0).audio, rate), rate)


def silence(seconds: float, rate: int = 16_000) -> Pcm:
    return np.zeros(int(seconds * rate), dtype=np.int16)


def frames(pcm: Pcm, rate: int = 16_000, ms: int = 20) -> list[bytes]:
    """The audio cut into the frames a browser sends (``ms`` each)."""
    step = rate * ms // 1000
    return [pcm[i : i + step].astype("<i2").tobytes() for i in range(0, len(pcm), step)]
