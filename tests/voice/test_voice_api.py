"""Voice through the API: a character's voice (the Studio), a message read aloud (kept, so a
replay is free), push-to-talk, Sparks, the premium unlock, and backend failures said plainly.

The backends here are small fakes that record what they were asked; the real ones (Piper,
Whisper) are exercised end to end in test_voice_roundtrip.py.
"""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from afterdark.app import create_app
from afterdark.chat.models import Message
from afterdark.config import Settings
from afterdark.voice.base import (
    Speech,
    SpeechRequest,
    Transcript,
    VoiceInfo,
    VoiceResponseError,
    VoiceUnavailableError,
)
from afterdark.voice.models import SpeechClip
from tests.conftest import make_settings, signup


def wav(seconds: float = 0.5, rate: int = 16000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(b"\x00\x01" * int(seconds * rate))
    return out.getvalue()


class FakeSpeech:
    name = "fake"

    def __init__(self) -> None:
        self.asked: list[SpeechRequest] = []
        self.fail: Exception | None = None

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo("joe", "Joe"), VoiceInfo("ada", "Ada")]

    async def speak(self, request: SpeechRequest) -> Speech:
        if self.fail is not None:
            raise self.fail
        self.asked.append(request)
        return Speech(wav(1.25), "audio/wav", 1.25)

    async def close(self) -> None:
        pass


class FakeTranscription:
    name = "fake"

    def __init__(self) -> None:
        self.heard: list[tuple[bytes, str]] = []
        self.fail: Exception | None = None

    async def transcribe(self, audio: bytes, media_type: str = "") -> Transcript:
        if self.fail is not None:
            raise self.fail
        self.heard.append((audio, media_type))
        return Transcript("are you still at the harbour", 75.0)

    async def close(self) -> None:
        pass


@pytest.fixture
def speech() -> FakeSpeech:
    return FakeSpeech()


@pytest.fixture
def transcription() -> FakeTranscription:
    return FakeTranscription()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, "http://127.0.0.1:9/v1", sparks={"enabled": True})


@pytest.fixture
async def app(
    settings: Settings, speech: FakeSpeech, transcription: FakeTranscription
) -> AsyncIterator[Any]:
    application = create_app(settings, speech=speech, transcription=transcription)
    async with application.router.lifespan_context(application):
        yield application


async def balance(client: httpx.AsyncClient) -> int:
    sparks = (await client.get("/api/v1/me/sparks")).json()
    return int(sparks["free"]) + int(sparks["wallet"])


async def greeting(client: httpx.AsyncClient, text: str) -> tuple[int, int]:
    made = await client.post(
        "/api/v1/characters", json={"name": "Mara Quill", "age": 34, "first_message": text}
    )
    cid = made.json()["id"]
    chat = (await client.post("/api/v1/conversations", json={"character_id": cid})).json()
    return cid, chat["messages"][0]["id"]


async def test_a_message_is_read_aloud_in_its_characters_voice(
    user_client: httpx.AsyncClient, app: Any, speech: FakeSpeech
) -> None:
    status = (await user_client.get("/api/v1/voice/status")).json()
    assert (status["speech"], status["transcription"]) == (True, True)
    assert [v["id"] for v in status["voices"]] == ["joe", "ada"]
    cid, greeting_id = await greeting(
        user_client, "*She sets down the lantern.* You made it. The tea is still warm."
    )
    assert (await user_client.get(f"/api/v1/characters/{cid}/voice")).json() == {
        "voice": "joe",
        "speed": 1.0,
        "pitch": 0.0,
    }
    chosen = await user_client.put(
        f"/api/v1/characters/{cid}/voice", json={"voice": "ada", "speed": 1.2, "pitch": -2}
    )
    assert chosen.status_code == 200, chosen.text
    before = await balance(user_client)

    first = await user_client.get(f"/api/v1/messages/{greeting_id}/speech")
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "audio/wav"
    assert first.headers["x-audio-seconds"] == "1.25"
    assert first.headers["x-sparks"] == "2"
    [asked] = speech.asked
    assert asked == SpeechRequest("You made it. The tea is still warm.", "ada", 1.2, -2.0)
    assert await balance(user_client) == before - 2

    again = await user_client.get(f"/api/v1/messages/{greeting_id}/speech")
    assert again.content == first.content
    assert again.headers["x-sparks"] == "2"  # what the kept clip cost, once
    assert len(speech.asked) == 1  # kept: not spoken again, not paid again
    assert await balance(user_client) == before - 2

    # Kept sealed, and spoken anew when the voice changes.
    runtime = app.state.runtime
    async with runtime.database.session() as session:
        [clip] = list(await session.scalars(select(SpeechClip)))
        assert runtime.files.read(clip.file_key) != first.content
    await user_client.put(f"/api/v1/characters/{cid}/voice", json={"voice": "joe"})
    await user_client.get(f"/api/v1/messages/{greeting_id}/speech")
    assert speech.asked[-1].voice == "joe"


async def test_bad_voice_choices_and_other_users(user_client: httpx.AsyncClient, app: Any) -> None:
    cid, greeting_id = await greeting(user_client, "Hello there.")
    unknown = await user_client.put(f"/api/v1/characters/{cid}/voice", json={"voice": "zed"})
    assert unknown.status_code == 422
    assert "joe, ada" in unknown.json()["error"]["message"]
    fast = await user_client.put(f"/api/v1/characters/{cid}/voice", json={"speed": 9})
    assert fast.status_code == 422
    builtin = (await user_client.get("/api/v1/characters?mine=false")).json()[0]["id"]
    refused = await user_client.put(f"/api/v1/characters/{builtin}/voice", json={"voice": "joe"})
    assert refused.status_code in (403, 404)

    other = httpx.AsyncClient(transport=user_client._transport, base_url="http://test")
    async with other:
        await signup(other, email="eve@example.com")
        assert (await other.get(f"/api/v1/messages/{greeting_id}/speech")).status_code == 404
        mine = await other.put(f"/api/v1/characters/{cid}/voice", json={"voice": "ada"})
        assert mine.status_code == 404


async def test_push_to_talk_is_charged_by_the_minute(
    user_client: httpx.AsyncClient, app: Any, transcription: FakeTranscription
) -> None:
    await greeting(user_client, "Hello.")  # an account with Sparks in use
    before = await balance(user_client)
    heard = await user_client.post(
        "/api/v1/voice/transcribe", files={"audio": ("talk.webm", b"webm bytes", "audio/webm")}
    )
    assert heard.status_code == 200, heard.text
    assert heard.json() == {
        "text": "are you still at the harbour",
        "seconds": 75.0,
        "language": "en",
    }
    assert transcription.heard == [(b"webm bytes", "audio/webm")]
    assert await balance(user_client) == before - 2  # 75 s: two started minutes
    empty = await user_client.post(
        "/api/v1/voice/transcribe", files={"audio": ("talk.webm", b"", "audio/webm")}
    )
    assert empty.status_code == 422


async def test_backend_failures_are_said_plainly_and_cost_nothing(
    user_client: httpx.AsyncClient,
    app: Any,
    speech: FakeSpeech,
    transcription: FakeTranscription,
) -> None:
    _, greeting_id = await greeting(user_client, "Hello.")
    before = await balance(user_client)
    speech.fail = VoiceUnavailableError("The speech server at http://x is not answering.")
    down = await user_client.get(f"/api/v1/messages/{greeting_id}/speech")
    assert down.status_code == 503
    assert down.json()["error"] == {
        "code": "voice_unavailable",
        "message": "The speech server at http://x is not answering.",
    }
    transcription.fail = VoiceResponseError("The recording could not be read: not audio.")
    bad = await user_client.post(
        "/api/v1/voice/transcribe", files={"audio": ("x.webm", b"junk", "audio/webm")}
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "voice_failed"
    assert await balance(user_client) == before
    async with app.state.runtime.database.session() as session:
        assert list(await session.scalars(select(SpeechClip))) == []
        assert await session.get(Message, greeting_id) is not None


async def test_voice_off_and_voice_as_a_plan_unlock(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        "http://127.0.0.1:9/v1",
        voice={"tts_backend": "none", "stt_backend": "none"},
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            await signup(http)
            status = (await http.get("/api/v1/voice/status")).json()
            assert (status["speech"], status["voices"]) == (False, [])
            _, greeting_id = await greeting(http, "Hello.")
            off = await http.get(f"/api/v1/messages/{greeting_id}/speech")
            assert off.status_code == 503
            assert "AFTERDARK_VOICE__TTS_BACKEND" in off.json()["error"]["message"]

    # Payments on and a plan that unlocks voice: a user without it is asked to choose one.
    paid = make_settings(
        tmp_path / "paid",
        "http://127.0.0.1:9/v1",
        payments={"stripe_secret_key": "sk_test_x", "stripe_webhook_secret": "whsec_x"},
    )
    application = create_app(paid, speech=FakeSpeech(), transcription=FakeTranscription())
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            await signup(http)
            _, greeting_id = await greeting(http, "Hello.")
            locked = await http.get(f"/api/v1/messages/{greeting_id}/speech")
            assert locked.status_code == 402
            assert "Voice comes with a plan" in locked.json()["error"]["message"]


async def test_spoken_messages_and_voices_travel_in_the_export(
    user_client: httpx.AsyncClient, app: Any
) -> None:
    from afterdark.accounts.models import User
    from afterdark.privacy.deletion import delete_account
    from afterdark.privacy.export import export_user
    from afterdark.privacy.restore import import_user
    from afterdark.voice.models import CharacterVoice

    cid, greeting_id = await greeting(user_client, "You made it.")
    await user_client.put(f"/api/v1/characters/{cid}/voice", json={"voice": "ada", "speed": 0.8})
    spoken = await user_client.get(f"/api/v1/messages/{greeting_id}/speech")
    runtime = app.state.runtime
    async with runtime.database.session() as session:
        owner = await session.scalar(select(User).where(User.email == "ada@example.com"))
        assert owner is not None
        data = await export_user(session, runtime.files, owner)
        restored = await import_user(
            session, runtime.files, data, password="new password 1", email="kim@example.com"
        )
        await session.commit()
        [clip] = list(
            await session.scalars(select(SpeechClip).where(SpeechClip.user_id == restored.id))
        )
        assert clip.message_id != greeting_id
        assert await runtime.files.load(session, clip.file_key, owner=restored.id) == (
            spoken.content
        )
        voices = list(await session.scalars(select(CharacterVoice)))
        assert sorted((v.voice, v.speed) for v in voices) == [("ada", 0.8), ("ada", 0.8)]

        # Deleting the account takes the audio files with it.
        path = runtime.files.path(clip.file_key)
        assert path.exists()
        await delete_account(session, runtime.files, restored)
        await session.commit()
        assert not path.exists()
