"""Recordings in, 16 kHz mono samples out: the one place audio formats are dealt with.

PyAV (FFmpeg's libraries, bundled in its wheels) reads what browsers record (webm/opus,
ogg, mp4/aac) and what people upload (wav, mp3) straight from memory, so no temporary
file holds a user's voice. Whisper wants 16 kHz mono float32, which FFmpeg's resampler
gives directly.

The length limit is checked before the work: first against the container's own duration,
then as packets decode, so a small file that claims or unpacks to hours is refused
without ever being held in memory whole.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass

import av
import numpy as np
import numpy.typing as npt

from afterdark.voice.base import VoiceResponseError

RATE = 16_000  # what Whisper listens at
_UNREADABLE = "The recording could not be read"


@dataclass(frozen=True, slots=True)
class Decoded:
    samples: npt.NDArray[np.float32]  # mono, RATE Hz, in [-1, 1]
    seconds: float


def decode(data: bytes, max_seconds: float) -> Decoded:
    """The recording as 16 kHz mono float32; ``VoiceResponseError`` when unreadable or too long."""
    parts: list[npt.NDArray[np.float32]] = []
    count = 0
    limit = int(max_seconds * RATE)
    try:
        with _open(data) as container:
            stream = _audio_stream(container)
            claimed = _claimed_seconds(container, stream)
            if claimed > max_seconds:
                raise _too_long(max_seconds)
            resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
            try:
                for frame in container.decode(stream):
                    for out in resampler.resample(frame):
                        count += _keep(parts, out)
                    if count > limit:
                        raise _too_long(max_seconds)
            except av.FFmpegError:
                # A recording cut short (a tab closed mid-upload) breaks in its last packets;
                # what came before is still the user's words.
                if not count:
                    raise
            for out in resampler.resample(None):
                count += _keep(parts, out)
    except av.FFmpegError as exc:
        raise VoiceResponseError(f"{_UNREADABLE}: {_reason(exc)}.") from None
    if count > limit:
        raise _too_long(max_seconds)
    samples = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    return Decoded(samples=samples, seconds=count / RATE)


def probe_seconds(data: bytes) -> float:
    """The recording's duration from its container, reading packets but decoding nothing.

    0 when it cannot be told (unreadable audio, or a stream without timestamps).
    """
    try:
        with _open(data) as container:
            stream = _audio_stream(container)
            claimed = _claimed_seconds(container, stream)
            if claimed:
                return claimed
            # Browsers' webm (MediaRecorder) carries no duration; the last packet's end is it.
            end = 0.0
            for packet in container.demux(stream):
                if packet.pts is not None and packet.time_base is not None:
                    end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
            return end
    except (av.FFmpegError, VoiceResponseError):
        return 0.0


def wav_bytes(samples: npt.NDArray[np.floating] | npt.NDArray[np.int16], rate: int) -> bytes:
    """Mono samples (float in [-1, 1], or int16) as a 16-bit PCM WAV file."""
    if samples.dtype != np.int16:
        samples = (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16)
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.astype("<i2").tobytes())
    return out.getvalue()


def _open(data: bytes) -> av.container.InputContainer:
    if not data:
        raise VoiceResponseError(f"{_UNREADABLE}: it is empty.")
    return av.open(io.BytesIO(data), mode="r")


def _audio_stream(container: av.container.InputContainer) -> av.AudioStream:
    if not container.streams.audio:
        raise VoiceResponseError(f"{_UNREADABLE}: it holds no sound.")
    return container.streams.audio[0]


def _claimed_seconds(container: av.container.InputContainer, stream: av.AudioStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


def _keep(parts: list[npt.NDArray[np.float32]], frame: av.AudioFrame) -> int:
    samples = frame.to_ndarray().reshape(-1).astype(np.float32, copy=False)
    parts.append(samples)
    return len(samples)


def _too_long(max_seconds: float) -> VoiceResponseError:
    return VoiceResponseError(
        f"The recording is longer than the {max_seconds:g} seconds one message may be."
    )


def _reason(exc: av.FFmpegError) -> str:
    reason = getattr(exc, "strerror", None) or str(exc)
    return reason.rstrip(".").lower() if reason else "not a sound format"


class PcmStream:
    """Raw 16-bit little-endian mono PCM at any rate in, 16 kHz float32 out, chunk by chunk
    (a live call's microphone); FFmpeg's resampler keeps its filter state across chunks."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._resampler = (
            av.AudioResampler(format="flt", layout="mono", rate=RATE) if rate != RATE else None
        )
        self._odd = b""  # a byte left over from a chunk that split a sample

    def feed(self, data: bytes) -> npt.NDArray[np.float32]:
        data = self._odd + data
        whole = len(data) // 2 * 2
        self._odd = data[whole:]
        pcm = np.frombuffer(data[:whole], dtype="<i2")
        if not pcm.size:
            return np.zeros(0, dtype=np.float32)
        if self._resampler is None:
            return (pcm.astype(np.float32) / 32768.0).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.rate
        parts: list[npt.NDArray[np.float32]] = []
        for out in self._resampler.resample(frame):
            _keep(parts, out)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
