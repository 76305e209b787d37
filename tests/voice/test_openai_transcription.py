"""The openai transcription backend against the loopback stand-in, over a real socket."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import aiohttp
import numpy as np
import pytest
from pydantic import SecretStr

from afterdark.voice.audio import RATE, wav_bytes
from afterdark.voice.base import TranscriptionBackend, VoiceResponseError, VoiceUnavailableError
from afterdark.voice.openai_transcription import OpenAITranscription
from afterdark.voice.settings import VoiceSettings
from tests.support.transcription_standin import (
    TranscriptionStandIn,
    run_transcription_standin,
    serve_transcription_standin,
)

RECORDING = wav_bytes(np.zeros(RATE * 2, dtype=np.float32), RATE)


@pytest.fixture
async def standin() -> AsyncIterator[TranscriptionStandIn]:
    async with serve_transcription_standin() as server:
        yield server


def backend_for(server: TranscriptionStandIn, **options: object) -> OpenAITranscription:
    return OpenAITranscription(VoiceSettings(stt_base_url=server.base_url, **options))


async def test_sends_the_recording_as_multipart(standin: TranscriptionStandIn) -> None:
    standin.text = "  I heard you.  "
    backend = backend_for(standin, stt_model="whisper-large-v3")
    try:
        transcript = await backend.transcribe(RECORDING, "audio/webm;codecs=opus")
    finally:
        await backend.close()
    assert isinstance(backend, TranscriptionBackend)
    assert transcript.text == "I heard you."
    assert transcript.seconds == pytest.approx(2.0)
    [upload] = standin.uploads
    assert upload.fields == {"model": "whisper-large-v3", "response_format": "json"}
    assert upload.audio == RECORDING
    assert upload.filename == "recording.webm"
    assert upload.content_type == "audio/webm"
    assert "Authorization" not in upload.headers


async def test_unknown_media_type_still_has_a_name(standin: TranscriptionStandIn) -> None:
    backend = backend_for(standin)
    try:
        await backend.transcribe(RECORDING)
    finally:
        await backend.close()
    assert standin.uploads[0].filename == "recording.webm"
    assert standin.uploads[0].content_type == "application/octet-stream"


async def test_bearer_key(standin: TranscriptionStandIn) -> None:
    standin.api_key = "sk-test"
    backend = backend_for(standin, stt_api_key=SecretStr("sk-test"))
    wrong = backend_for(standin, stt_api_key=SecretStr("sk-wrong"))
    try:
        assert (await backend.transcribe(RECORDING, "audio/wav")).text == standin.text
        with pytest.raises(VoiceResponseError, match="401: Incorrect API key provided"):
            await wrong.transcribe(RECORDING, "audio/wav")
    finally:
        await backend.close()
        await wrong.close()
    assert standin.uploads[0].headers["Authorization"] == "Bearer sk-test"


async def test_server_errors_pass_through(standin: TranscriptionStandIn) -> None:
    standin.fail_status = 400
    standin.fail_message = "Audio file might be corrupted or unsupported"
    backend = backend_for(standin)
    try:
        with pytest.raises(VoiceResponseError, match="400: Audio file might be corrupted"):
            await backend.transcribe(b"garbage", "audio/ogg")
    finally:
        await backend.close()
    assert standin.uploads[0].filename == "recording.ogg"


async def test_too_long_is_refused_before_uploading(standin: TranscriptionStandIn) -> None:
    backend = backend_for(standin, max_audio_seconds=5)
    long = wav_bytes(np.zeros(RATE * 6, dtype=np.float32), RATE)
    try:
        with pytest.raises(VoiceResponseError, match="longer than the 5 seconds"):
            await backend.transcribe(long, "audio/wav")
    finally:
        await backend.close()
    assert standin.uploads == []


async def test_slow_server_times_out(standin: TranscriptionStandIn) -> None:
    standin.delay = 2.0
    backend = backend_for(standin, timeout=0.2)
    try:
        with pytest.raises(VoiceUnavailableError, match="did not answer within 0.2 s"):
            await backend.transcribe(RECORDING, "audio/wav")
    finally:
        await backend.close()


async def test_unreachable_server_names_the_setting() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once the socket is closed
    backend = OpenAITranscription(VoiceSettings(stt_base_url=f"http://127.0.0.1:{port}/v1"))
    try:
        with pytest.raises(VoiceUnavailableError, match="AFTERDARK_VOICE__STT_BASE_URL"):
            await backend.transcribe(RECORDING, "audio/wav")
    finally:
        await backend.close()


def test_standin_requires_file_and_model() -> None:
    async def post(url: str, form: aiohttp.FormData) -> tuple[int, dict[str, object]]:
        async with aiohttp.ClientSession() as session, session.post(url, data=form) as response:
            return response.status, await response.json()

    with run_transcription_standin() as server:
        url = f"{server.base_url}/audio/transcriptions"
        no_file = aiohttp.FormData({"model": "whisper-1"}, default_to_multipart=True)
        no_model = aiohttp.FormData()
        no_model.add_field("file", RECORDING, filename="a.wav", content_type="audio/wav")
        missing_file = asyncio.run(post(url, no_file))
        missing_model = asyncio.run(post(url, no_model))
    assert missing_file[0] == missing_model[0] == 400
    assert "'file'" in str(missing_file[1]["error"])
    assert "'model'" in str(missing_model[1]["error"])
