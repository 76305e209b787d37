"""How a call takes turns, with the ``Call`` driven directly: a slow transcription that more
speech arrives during (the same turn, not an interruption), and an empty transcript (no
message). Speech and transcription are fakes here; the chat goes through the stand-in."""

from __future__ import annotations

import asyncio
import io
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import select

from afterdark.accounts.models import User
from afterdark.app import create_app
from afterdark.config import Settings
from afterdark.voice.base import Transcript
from afterdark.voice.call import Call
from tests.conftest import make_settings, signup
from tests.support.speech_audio import espeak, frames, silence
from tests.voice.test_voice_api import FakeSpeech

RATE = 16_000


class SlowTranscription:
    """Says how many seconds it heard, after ``delay``."""

    name = "slow"

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.heard: list[float] = []
        self.silent = False

    async def transcribe(self, audio: bytes, media_type: str = "") -> Transcript:
        with wave.open(io.BytesIO(audio), "rb") as wav:
            seconds = wav.getnframes() / wav.getframerate()
        await asyncio.sleep(self.delay)
        self.heard.append(seconds)
        return Transcript("" if self.silent else f"heard {seconds:.1f} seconds", seconds)

    async def close(self) -> None:
        pass


class Events:
    """A transport that keeps what the call sends."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None

    async def send(self, event: dict[str, Any], audio: bytes | None = None) -> None:
        self.sent.append(event)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.sent if e["type"] == kind]


@pytest.fixture
def llm_base_url(standin: Any) -> str:
    return str(standin.base_url)


@pytest.fixture
def transcription() -> SlowTranscription:
    return SlowTranscription(delay=1.5)


@pytest.fixture
async def app(settings: Settings, transcription: SlowTranscription) -> AsyncIterator[Any]:
    application = create_app(settings, speech=FakeSpeech(), transcription=transcription)
    async with application.router.lifespan_context(application):
        yield application


async def start_call(app: Any, client: httpx.AsyncClient) -> tuple[Call, Events, int]:
    await signup(client)
    character = (await client.get("/api/v1/characters")).json()[0]["id"]
    chat = (await client.post("/api/v1/conversations", json={"character_id": character})).json()
    runtime = app.state.runtime
    async with runtime.database.session() as session:
        user = await session.scalar(select(User).where(User.email == "ada@example.com"))
    assert user is not None
    events = Events()
    call = Call(runtime, user, int(chat["id"]), events)
    await call.start(RATE)
    return call, events, int(chat["id"])


async def say(call: Call, pcm: np.ndarray[Any, Any]) -> None:
    for frame in frames(pcm, RATE):
        await call.hear(frame)
        await asyncio.sleep(0.005)


async def settle(events: Events, kind: str, count: int = 1, timeout: float = 20) -> None:
    for _ in range(int(timeout / 0.02)):
        if len(events.of(kind)) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {kind}: {[e['type'] for e in events.sent]}")


async def test_more_speech_while_transcribing_is_the_same_turn(
    app: Any, client: httpx.AsyncClient, transcription: SlowTranscription, standin: Any
) -> None:
    standin.reply = "Take your time."
    call, events, conversation = await start_call(app, client)
    first, second = espeak("I was thinking"), espeak("that we could walk to the pier")
    await say(call, np.concatenate([first, silence(0.7)]))  # the turn ends: transcribing
    await asyncio.sleep(0.1)
    await say(call, np.concatenate([second, silence(0.7)]))  # ... then more words
    await settle(events, "reply_done")
    await call.end()
    said = events.of("transcript")
    assert len(said) == 1, events.sent
    # What was transcribed in the end is both parts together.
    both = (len(first) + len(second)) / RATE
    seconds = float(said[0]["text"].split()[1])
    assert both <= seconds <= both + 1.6, (said, both)
    assert not events.of("barge_in")  # nothing was playing: not an interruption
    messages = (await client.get(f"/api/v1/conversations/{conversation}")).json()["messages"]
    assert [m["role"] for m in messages[-2:]] == ["user", "assistant"]
    assert messages[-2]["content"] == said[0]["text"]


async def test_an_empty_transcript_is_no_message(
    app: Any, client: httpx.AsyncClient, transcription: SlowTranscription
) -> None:
    transcription.silent, transcription.delay = True, 0.0
    call, events, conversation = await start_call(app, client)
    before = (await client.get(f"/api/v1/conversations/{conversation}")).json()["messages"]
    await say(call, np.concatenate([espeak("hmm"), silence(0.8)]))
    for _ in range(200):
        if transcription.heard and events.sent[-1] == {"type": "state", "state": "listening"}:
            break
        await asyncio.sleep(0.02)
    await call.end()
    assert transcription.heard
    assert not events.of("transcript")
    assert events.sent[-1] == {"type": "state", "state": "listening"}
    after = (await client.get(f"/api/v1/conversations/{conversation}")).json()["messages"]
    assert after == before


def test_settings_bound_the_turns(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="call_silence_ms"):
        make_settings(tmp_path, "http://127.0.0.1:9/v1", voice={"call_silence_ms": 50})
