"""The ``openai`` transcription backend: any server speaking ``POST /v1/audio/transcriptions``.

Written for faster-whisper-server/speaches, whisper.cpp's server, LocalAI and hosted APIs
(tested against the protocol stand-in in ``tests/support``). The recording goes as sent,
multipart, so the server decodes it; locally only its container is read, for the duration
and to refuse an over-long recording before uploading it.
"""

from __future__ import annotations

import asyncio

import aiohttp
import orjson

from afterdark.kit.httperrors import answer_message
from afterdark.kit.httperrors import os_reason as _os_reason
from afterdark.voice.audio import probe_seconds
from afterdark.voice.base import (
    Transcript,
    TranscriptionBackend,
    VoiceResponseError,
    VoiceUnavailableError,
)
from afterdark.voice.settings import VoiceSettings

_MAX_ERROR_BODY = 64 * 1024
# Servers pick the decoder by the file name's extension (OpenAI refuses unknown ones).
_EXTENSIONS = {
    "audio/webm": "webm",
    "video/webm": "webm",
    "audio/ogg": "ogg",
    "audio/opus": "ogg",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/mp4": "m4a",
    "audio/x-m4a": "m4a",
    "audio/aac": "m4a",
    "audio/flac": "flac",
}


class OpenAITranscription:
    """Transcribes recordings on an OpenAI-compatible server."""

    name = "openai"

    def __init__(self, settings: VoiceSettings) -> None:
        self.base_url = settings.stt_base_url.rstrip("/")
        self._url = f"{self.base_url}/audio/transcriptions"
        self._model = settings.stt_model
        self._max_seconds = settings.max_audio_seconds
        self._timeout = settings.timeout
        self._headers: dict[str, str] = {}
        key = settings.stt_api_key.get_secret_value() if settings.stt_api_key else ""
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    async def transcribe(self, audio: bytes, media_type: str = "") -> Transcript:
        """What the server heard; ``VoiceError`` when it cannot be reached or refuses."""
        seconds = await asyncio.to_thread(probe_seconds, audio)
        if seconds > self._max_seconds:
            raise VoiceResponseError(
                f"The recording is longer than the {self._max_seconds:g} seconds "
                "one message may be."
            )
        data = await self._post(self._form(audio, media_type))
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            raise VoiceResponseError("The transcription server answered without a transcript.")
        text: str = data["text"]
        language = data.get("language")
        return Transcript(
            text=text.strip(),
            seconds=seconds or _number(data.get("duration")),
            language=language if isinstance(language, str) and language else "en",
        )

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _form(self, audio: bytes, media_type: str) -> aiohttp.FormData:
        base = media_type.split(";")[0].strip().lower()
        form = aiohttp.FormData()
        form.add_field(
            "file",
            audio,
            filename=f"recording.{_EXTENSIONS.get(base, 'webm')}",
            content_type=base or "application/octet-stream",
        )
        form.add_field("model", self._model)
        form.add_field("response_format", "json")
        return form

    async def _post(self, form: aiohttp.FormData) -> object:
        try:
            async with self._client().post(self._url, data=form, headers=self._headers) as response:
                if response.status >= 400:
                    raise await _status_error(response)
                raw = await response.read()
        except TimeoutError:
            raise VoiceUnavailableError(
                f"The transcription server at {self.base_url} did not answer "
                f"within {self._timeout:g} s."
            ) from None
        except aiohttp.ClientConnectorError as exc:
            raise VoiceUnavailableError(
                f"Could not reach the transcription server at {self.base_url}: "
                f"{_os_reason(exc.os_error)}. Check AFTERDARK_VOICE__STT_BASE_URL."
            ) from None
        except aiohttp.ClientError as exc:
            raise VoiceUnavailableError(
                f"The transcription server at {self.base_url} broke off: {exc or 'no reason'}."
            ) from None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise VoiceResponseError(
                "The transcription server answered with something not JSON."
            ) from None

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._session
        # A session belongs to one event loop; tests may run one backend on several.
        if session is None or session.closed or self._session_loop is not loop:
            session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout))
            self._session, self._session_loop = session, loop
        return session


async def _status_error(response: aiohttp.ClientResponse) -> VoiceResponseError:
    # OpenAI: {"error": {"message"}}; some servers: {"error": "..."}; FastAPI: {"detail"}.
    message = await answer_message(response, _MAX_ERROR_BODY)
    return VoiceResponseError(f"The transcription server answered {response.status}: {message}")


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def create(settings: VoiceSettings) -> TranscriptionBackend:
    """Factory typed so mypy checks the class against the Protocol."""
    return OpenAITranscription(settings)
