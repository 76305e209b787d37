"""The ``openai`` speech backend against the speech stand-in, over a real loopback socket."""

from __future__ import annotations

import asyncio
import io
import socket
import wave
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from afterdark.voice.base import (
    SpeechBackend,
    SpeechRequest,
    VoiceInfo,
    VoiceResponseError,
    VoiceUnavailableError,
)
from afterdark.voice.openai_speech import OpenAISpeech
from afterdark.voice.registry import make_speech
from afterdark.voice.settings import VoiceSettings
from tests.support.speech_standin import (
    RATE,
    SECONDS_PER_CHAR,
    SpeechStandIn,
    run_speech_standin,
    serve_speech_standin,
)

MakeBackend = Callable[..., OpenAISpeech]
TEXT = "Good evening, traveller."


@pytest.fixture
async def server() -> AsyncIterator[SpeechStandIn]:
    async with serve_speech_standin() as running:
        yield running


@pytest.fixture
async def make_backend(server: SpeechStandIn) -> AsyncIterator[MakeBackend]:
    """Build ``openai`` speech backends aimed at the stand-in; all are closed afterwards."""
    made: list[OpenAISpeech] = []

    def make(**overrides: Any) -> OpenAISpeech:
        options: dict[str, Any] = {"tts_backend": "openai", "tts_base_url": server.base_url}
        options.update(overrides)
        backend = OpenAISpeech(VoiceSettings(**options))
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.close()


def test_the_registry_builds_it() -> None:
    speech = make_speech(VoiceSettings(tts_backend="openai"))

    assert isinstance(speech, OpenAISpeech)
    assert isinstance(speech, SpeechBackend)


def test_the_voices_are_the_configured_names() -> None:
    speech = OpenAISpeech(VoiceSettings(tts_voices=["af_bella", "nova"]))

    assert speech.voices() == [VoiceInfo("af_bella", "Af Bella"), VoiceInfo("nova", "Nova")]


async def test_the_body_follows_the_api(server: SpeechStandIn, make_backend: MakeBackend) -> None:
    backend = make_backend(tts_model="kokoro", tts_voices=["af_bella", "af_sky"])

    await backend.speak(SpeechRequest(f"  {TEXT} ", speed=1.5, pitch=3.0))

    assert server.requests == [
        {
            "model": "kokoro",
            "input": TEXT,
            "voice": "af_bella",  # the first configured voice is the default
            "speed": 1.5,
            "response_format": "wav",
        }
    ]
    assert "Authorization" not in server.headers[0]


async def test_the_chosen_voice_is_sent(server: SpeechStandIn, make_backend: MakeBackend) -> None:
    await make_backend().speak(SpeechRequest(TEXT, voice="af_bella+af_sky"))

    assert server.requests[0]["voice"] == "af_bella+af_sky"


async def test_speed_is_kept_within_the_api_range(
    server: SpeechStandIn, make_backend: MakeBackend
) -> None:
    backend = make_backend()
    await backend.speak(SpeechRequest(TEXT, speed=9.0))
    await backend.speak(SpeechRequest(TEXT, speed=0.1))

    assert [body["speed"] for body in server.requests] == [4.0, 0.25]


async def test_wav_comes_back_with_its_duration(make_backend: MakeBackend) -> None:
    speech = await make_backend().speak(SpeechRequest(TEXT, speed=2.0))

    with wave.open(io.BytesIO(speech.audio), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, RATE)
        frames = wav.getnframes()
    assert speech.media_type == "audio/wav"
    assert speech.seconds == pytest.approx(frames / RATE)
    assert speech.seconds == pytest.approx(len(TEXT) * SECONDS_PER_CHAR / 2.0, abs=0.01)


async def test_an_unnamed_content_type_is_taken_as_wav(
    server: SpeechStandIn, make_backend: MakeBackend
) -> None:
    server.content_type = "application/octet-stream"

    speech = await make_backend().speak(SpeechRequest(TEXT))

    assert speech.media_type == "audio/wav"
    assert speech.seconds > 0


async def test_another_format_is_passed_on(
    server: SpeechStandIn, make_backend: MakeBackend
) -> None:
    server.content_type = "audio/mpeg"

    speech = await make_backend().speak(SpeechRequest(TEXT))

    assert speech.media_type == "audio/mpeg"


async def test_a_json_answer_is_not_audio(server: SpeechStandIn, make_backend: MakeBackend) -> None:
    server.content_type = "application/json"

    with pytest.raises(VoiceResponseError, match="application/json, not audio"):
        await make_backend().speak(SpeechRequest(TEXT))


async def test_the_key_is_sent_as_a_bearer_token(
    server: SpeechStandIn, make_backend: MakeBackend
) -> None:
    server.api_key = "sk-speech"

    speech = await make_backend(tts_api_key="sk-speech").speak(SpeechRequest(TEXT))

    assert server.headers[0]["Authorization"] == "Bearer sk-speech"
    assert speech.audio.startswith(b"RIFF")


async def test_a_wrong_key_reports_the_servers_message(
    server: SpeechStandIn, make_backend: MakeBackend
) -> None:
    server.api_key = "sk-speech"

    with pytest.raises(VoiceResponseError) as caught:
        await make_backend(tts_api_key="sk-other").speak(SpeechRequest(TEXT))

    assert str(caught.value) == "The speech server answered 401: Incorrect API key provided."


async def test_the_servers_error_message_is_passed_on(
    server: SpeechStandIn, make_backend: MakeBackend
) -> None:
    server.fail_status = 503
    server.fail_message = "the voice model is still loading"

    with pytest.raises(VoiceResponseError) as caught:
        await make_backend().speak(SpeechRequest(TEXT))

    assert "503" in str(caught.value)
    assert "the voice model is still loading" in str(caught.value)


async def test_an_unknown_voice_is_the_servers_error(
    server: SpeechStandIn, make_backend: MakeBackend
) -> None:
    server.voices = ("alloy",)

    with pytest.raises(VoiceResponseError, match="'nobody' is not a voice"):
        await make_backend().speak(SpeechRequest(TEXT, voice="nobody"))


async def test_empty_and_too_long_text_are_refused_before_sending(
    server: SpeechStandIn, make_backend: MakeBackend
) -> None:
    backend = make_backend(max_speech_chars=100)

    with pytest.raises(VoiceResponseError, match="no text"):
        await backend.speak(SpeechRequest(" \n"))
    with pytest.raises(VoiceResponseError, match="the limit is 100"):
        await backend.speak(SpeechRequest("x" * 101))

    assert server.requests == []


async def test_a_slow_server_times_out(server: SpeechStandIn, make_backend: MakeBackend) -> None:
    server.delay = 2.0

    with pytest.raises(VoiceUnavailableError, match=r"did not answer within 0\.2 s"):
        await make_backend(timeout=0.2).speak(SpeechRequest(TEXT))


async def test_an_unreachable_server_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    backend = OpenAISpeech(VoiceSettings(tts_backend="openai", tts_base_url=url))
    try:
        with pytest.raises(VoiceUnavailableError) as caught:
            await backend.speak(SpeechRequest(TEXT))
    finally:
        await backend.close()

    assert url in str(caught.value)
    assert "AFTERDARK_VOICE__TTS_BASE_URL" in str(caught.value)


async def test_close_closes_the_session_and_a_later_call_opens_another(
    server: SpeechStandIn, make_backend: MakeBackend
) -> None:
    backend = make_backend()
    await backend.speak(SpeechRequest(TEXT))
    session = backend._session

    await backend.close()
    await backend.speak(SpeechRequest(TEXT))

    assert session is not None
    assert session.closed
    assert len(server.requests) == 2


def test_the_threaded_stand_in_serves_a_synchronous_caller() -> None:
    with run_speech_standin(voices=("nova",)) as server:
        backend = OpenAISpeech(VoiceSettings(tts_base_url=server.base_url, tts_voices=["nova"]))

        async def speak_and_close() -> float:
            try:
                return (await backend.speak(SpeechRequest(TEXT))).seconds
            finally:
                await backend.close()

        seconds = asyncio.run(speak_and_close())

    assert seconds == pytest.approx(len(TEXT) * SECONDS_PER_CHAR, abs=0.01)
    assert server.requests[0]["voice"] == "nova"
