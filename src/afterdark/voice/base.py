"""The speech and transcription backend interfaces.

``SpeechBackend`` turns text into audio in a named voice; ``TranscriptionBackend`` turns a
recording into text. Built in: ``embedded`` (Piper / faster-whisper, in process, CPU) and
``openai`` (OpenAI-compatible ``/v1/audio/speech`` and ``/v1/audio/transcriptions``).

Errors (``str()`` is shown to the user: plain, actionable sentences):

    VoiceError
    ├── VoiceUnavailableError   the backend cannot be reached or loaded
    └── VoiceResponseError      it answered with an error, or with nothing usable
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class VoiceInfo:
    id: str  # what a character stores and the backend is asked for
    name: str  # shown in the Studio
    language: str = "en"


@dataclass(frozen=True, slots=True)
class SpeechRequest:
    text: str
    voice: str = ""  # "" for the backend's default voice
    speed: float = 1.0  # 0.5 (slower) to 2.0 (faster)
    pitch: float = 0.0  # semitones, -6 to +6; backends that cannot shift pitch ignore it


@dataclass(frozen=True, slots=True)
class Speech:
    audio: bytes
    media_type: str  # audio/wav, audio/mpeg, audio/ogg ...
    seconds: float  # the audio's duration (0 when the backend did not say)


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    seconds: float  # the recording's duration
    language: str = "en"


class VoiceError(Exception):
    """Base of every voice backend failure; ``str()`` is shown to the user."""


class VoiceUnavailableError(VoiceError):
    """The backend cannot be reached or loaded."""


class VoiceResponseError(VoiceError):
    """The backend answered with an error or with nothing usable."""


@runtime_checkable
class SpeechBackend(Protocol):
    name: str

    def voices(self) -> list[VoiceInfo]:
        """The voices a character may pick; the first is the default."""
        ...

    async def speak(self, request: SpeechRequest) -> Speech:
        """The text as audio. Raises ``VoiceError`` (an unknown voice: ``VoiceResponseError``)."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class TranscriptionBackend(Protocol):
    name: str

    async def transcribe(self, audio: bytes, media_type: str = "") -> Transcript:
        """What was said in a recording (any format ffmpeg reads: webm/opus from browsers,
        wav, ogg, mp3). Raises ``VoiceError``; unreadable audio is ``VoiceResponseError``."""
        ...

    async def close(self) -> None: ...
