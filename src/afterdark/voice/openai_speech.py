"""The ``openai`` speech backend: any server speaking OpenAI's ``POST /v1/audio/speech``.

Written for Kokoro-FastAPI, openedai-speech and hosted APIs (tested against the protocol
stand-in in ``tests/support``). WAV is asked for because every such server can make it and
browsers play it without a decoder; the server's content type is passed on all the same.
The voice names are the configured ``tts_voices``; they are not checked here because
servers take more than they list (Kokoro mixes voices as ``af_bella+af_sky``), so an
unknown one comes back as the server's own error. Pitch is not part of the API and is
ignored; speed is sent as it is, within the API's 0.25-4.0.
"""

from __future__ import annotations

import asyncio
import io
import wave
from typing import Any

import aiohttp
import orjson

from afterdark.kit.httperrors import answer_message
from afterdark.kit.httperrors import os_reason as _os_reason
from afterdark.voice.base import (
    Speech,
    SpeechBackend,
    SpeechRequest,
    VoiceInfo,
    VoiceResponseError,
    VoiceUnavailableError,
)
from afterdark.voice.settings import VoiceSettings

SPEED_RANGE = (0.25, 4.0)
_CONNECT_TIMEOUT = 10.0
_MAX_AUDIO = 64 * 1024 * 1024  # about 20 minutes of 24 kHz WAV
_MAX_ERROR_BODY = 64 * 1024
_NOT_AUDIO = ("application/json", "text/")
_URL_SETTING = "AFTERDARK_VOICE__TTS_BASE_URL"


class OpenAISpeech:
    """Speaks through an OpenAI-compatible speech server."""

    name = "openai"

    def __init__(self, settings: VoiceSettings) -> None:
        self.base_url = settings.tts_base_url.rstrip("/")
        self._url = f"{self.base_url}/audio/speech"
        self._model = settings.tts_model
        self._voices = list(settings.tts_voices)
        self._max_chars = settings.max_speech_chars
        self._timeout = settings.timeout
        self._headers = {"Content-Type": "application/json", "Accept": "audio/wav, audio/*"}
        key = settings.tts_api_key.get_secret_value() if settings.tts_api_key is not None else ""
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    def voices(self) -> list[VoiceInfo]:
        """The configured voice names, as the server spells them."""
        return [VoiceInfo(voice, voice.replace("_", " ").title()) for voice in self._voices]

    def request_body(self, request: SpeechRequest) -> dict[str, Any]:
        """The JSON body of ``POST /audio/speech`` for ``request``."""
        text = request.text.strip()
        if not text:
            raise VoiceResponseError("There is no text to speak.")
        if len(text) > self._max_chars:
            raise VoiceResponseError(
                f"The text is too long to speak: {len(text)} characters, "
                f"the limit is {self._max_chars}."
            )
        voice = request.voice or (self._voices[0] if self._voices else "")
        if not voice:
            raise VoiceResponseError(
                "No voice was chosen and none is configured; set AFTERDARK_VOICE__TTS_VOICES."
            )
        return {
            "model": self._model,
            "input": text,
            "voice": voice,
            "speed": min(max(request.speed, SPEED_RANGE[0]), SPEED_RANGE[1]),
            "response_format": "wav",
        }

    async def speak(self, request: SpeechRequest) -> Speech:
        """The server's audio for the text (WAV unless it chose otherwise)."""
        payload = orjson.dumps(self.request_body(request))
        try:
            async with asyncio.timeout(self._timeout):
                return await self._post(payload)
        except TimeoutError:
            raise VoiceUnavailableError(
                f"The speech server at {self.base_url} did not answer within {self._timeout:g} s."
            ) from None

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _post(self, payload: bytes) -> Speech:
        try:
            async with self._client().post(
                self._url, data=payload, headers=self._headers
            ) as response:
                if response.status >= 400:
                    raise await _status_error(response)
                media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
                if media_type.startswith(_NOT_AUDIO):
                    raise VoiceResponseError(
                        f"The speech server answered with {media_type}, not audio."
                    )
                audio = await _read_audio(response)
        except aiohttp.ClientConnectorError as exc:
            raise VoiceUnavailableError(
                f"Could not reach the speech server at {self.base_url}: "
                f"{_os_reason(exc.os_error)}. Check {_URL_SETTING}."
            ) from None
        except aiohttp.ClientError as exc:
            raise VoiceUnavailableError(
                f"The speech server at {self.base_url} broke off: {exc or 'no reason'}. "
                f"Check {_URL_SETTING}."
            ) from None
        if not audio:
            raise VoiceResponseError("The speech server answered with no audio.")
        if media_type in ("", "application/octet-stream"):
            media_type = "audio/wav"  # what was asked for
        return Speech(audio=audio, media_type=media_type, seconds=_wav_seconds(audio))

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._session
        # A session belongs to one event loop; tests may run one backend on several.
        if session is None or session.closed or self._session_loop is not loop:
            session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=_CONNECT_TIMEOUT)
            )
            self._session, self._session_loop = session, loop
        return session


async def _read_audio(response: aiohttp.ClientResponse) -> bytes:
    audio = await response.content.read(_MAX_AUDIO + 1)
    if len(audio) > _MAX_AUDIO:
        raise VoiceResponseError(
            f"The speech server sent more than {_MAX_AUDIO // (1024 * 1024)} MB of audio."
        )
    return audio


def _wav_seconds(audio: bytes) -> float:
    """The duration of WAV audio; 0 for other formats or an unreadable header.

    A streaming server cannot know the length when it writes the header, so the frame
    count there is trusted only when the bytes to back it arrived.
    """
    try:
        with wave.open(io.BytesIO(audio), "rb") as wav:
            rate, frames = wav.getframerate(), wav.getnframes()
            frame_size = wav.getsampwidth() * wav.getnchannels()
    except (wave.Error, EOFError):
        return 0.0
    if not rate or not frame_size:
        return 0.0
    return min(frames, len(audio) // frame_size) / rate


async def _status_error(response: aiohttp.ClientResponse) -> VoiceResponseError:
    # OpenAI: {"error": {"message"}}; some servers: {"error": "..."}; FastAPI: {"detail"}.
    message = await answer_message(response, _MAX_ERROR_BODY)
    return VoiceResponseError(f"The speech server answered {response.status}: {message}")


def create(settings: VoiceSettings) -> SpeechBackend:
    """Factory typed so mypy checks the class against the Protocol."""
    return OpenAISpeech(settings)
