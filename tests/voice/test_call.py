"""Live calls over the real socket: a uvicorn server on loopback, the embedded voice backends
(Piper speaks, Whisper listens), the chat through the loopback OpenAI stand-in, and a test
client that streams recorded speech in the frames a browser sends."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed

from afterdark.config import Settings
from afterdark.voice.wer import wer
from tests.conftest import LiveServer, live_signup, make_settings
from tests.support.call_client import RATE, cookie_headers, open_call
from tests.support.speech_audio import Pcm, espeak, piper, silence

pytestmark = pytest.mark.slow

QUESTION = "what time does the ferry leave tonight"
INTERRUPTION = "wait, tell me about the harbour instead"
REPLY = "The last ferry leaves at nine. I will wait for you by the pier, near the lamp."


@pytest.fixture
def llm_base_url(standin: Any) -> str:
    return str(standin.base_url)


@pytest.fixture
def settings(tmp_path: Path, llm_base_url: str) -> Settings:
    return make_settings(tmp_path, llm_base_url)  # voice: the embedded defaults


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    client = live_signup(live_server, "caller@example.com")
    try:
        yield client
    finally:
        client.close()


def new_conversation(http: httpx.Client) -> int:
    made = http.post(
        "/api/v1/characters",
        json={"name": "Ione Marsh", "age": 41, "first_message": "Evening. The pier is quiet."},
    )
    assert made.status_code == 201, made.text
    chat = http.post("/api/v1/conversations", json={"character_id": made.json()["id"]})
    return int(chat.json()["id"])


def api_token(http: httpx.Client) -> str:
    response = http.post("/api/v1/tokens", json={"name": "call test"})
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def spoken(text: str, maker: Any = piper) -> Pcm:
    return np.concatenate([silence(0.4, RATE), maker(text, RATE), silence(1.2, RATE)])


async def test_a_spoken_question_is_answered_aloud(
    live_server: LiveServer, http: httpx.Client, standin: Any
) -> None:
    standin.reply = REPLY
    conversation = new_conversation(http)
    async with open_call(
        live_server.url, conversation, cookie_headers(http, live_server.url)
    ) as call:
        ready = await call.next("ready", timeout=30)
        assert ready["character"] == "Ione Marsh"
        assert ready["conversation_id"] == conversation
        await call.say(spoken(QUESTION))
        heard = await call.next("transcript")
        assert wer(QUESTION, heard["text"]) <= 0.25, heard["text"]
        done = await call.next("reply_done")
        assert done["status"] == "done"
        assert done["content"] == REPLY
        clips = call.of("audio")
        assert len(clips) >= 2  # spoken piece by piece, not in one go at the end
        assert [c["seq"] for c in clips] == list(range(len(clips)))
        for clip in clips:
            assert clip["clip"][:4] == b"RIFF"
            assert len(clip["clip"]) == clip["bytes"]
            assert clip["seconds"] > 0.2
            assert clip["message_id"] == done["message_id"]
        assert " ".join(c["text"] for c in clips) == REPLY
        assert "".join(e["text"] for e in call.of("reply")) == REPLY

        latency = (await call.next("latency"))["ms"]
        assert all(isinstance(v, int) for v in latency.values()), latency
        assert 0 < latency["end_of_speech"] <= latency["transcript"] <= latency["first_audio"]
        assert latency["without_llm"] == latency["total"] - latency["llm"]
        states = [e["state"] for e in call.of("state")]
        assert states[:4] == ["listening", "hearing", "thinking", "speaking"], states

        # The page's queue ran dry after the first clip: the second is still to come.
        mark = len(call.events)
        await call.send({"type": "played", "message_id": done["message_id"], "seq": 0})
        await asyncio.sleep(0.3)
        assert call.events[mark:] == []
        last = clips[-1]["seq"]
        await call.send({"type": "played", "message_id": done["message_id"], "seq": last})
        await call.next("state", after=mark)
        assert call.events[-1] == {"type": "state", "state": "listening"}
        await call.send({"type": "hangup"})

    messages = http.get(f"/api/v1/conversations/{conversation}").json()["messages"]
    said, answer = messages[-2], messages[-1]
    assert (said["role"], said["content"]) == ("user", heard["text"])
    assert (answer["role"], answer["content"], answer["status"]) == ("assistant", REPLY, "complete")
    assert answer["id"] == done["message_id"]
    assert said["id"] == heard["message_id"]
    assert standin.requests[-1]["messages"][-1]["content"] == heard["text"]


async def test_talking_over_the_character_stops_it(
    live_server: LiveServer, http: httpx.Client, standin: Any
) -> None:
    sentences = [f"This is sentence number {n} of a long story about the sea." for n in range(20)]
    standin.reply = " ".join(sentences)
    standin.token_delay = 0.04  # about eight seconds of writing
    conversation = new_conversation(http)
    token = api_token(http)
    async with open_call(
        live_server.url, conversation, {"Authorization": f"Bearer {token}"}
    ) as call:
        await call.say(spoken(QUESTION))
        first = await call.next("audio")
        reply_id = first["message_id"]
        barge = len(call.events)
        await call.say(spoken(INTERRUPTION, espeak), pace=1.0)
        stopped = await call.next("barge_in", after=barge, timeout=30)
        assert stopped["message_id"] == reply_id
        ended = await call.next("reply_done", after=barge, timeout=30)
        assert ended["message_id"] == reply_id
        assert ended["status"] == "stopped"
        assert 0 < len(ended["content"]) < len(standin.reply)
        # No more of the stopped reply is spoken once the barge-in was sent.
        cut = call.events.index(stopped)
        late = [e for e in call.events[cut:] if e["type"] == "audio"]
        assert all(e["message_id"] != reply_id for e in late)

        standin.reply, standin.token_delay = "The harbour is old and full of boats.", 0.0
        heard = await call.next("transcript", after=cut)
        # espeak-ng's voice is hard to hear; its key words come through.
        assert {"wait", "tell", "instead"} <= set(re.findall(r"[a-z']+", heard["text"].lower()))
        assert "harbo" in heard["text"].lower()
        second = await call.next("reply_done", after=call.events.index(heard))
        assert second["status"] == "done"
        assert second["message_id"] != reply_id
        await call.next("audio", after=call.events.index(heard))
        await call.send({"type": "hangup"})

    messages = http.get(f"/api/v1/conversations/{conversation}").json()["messages"]
    assert [m["role"] for m in messages[-4:]] == ["user", "assistant", "user", "assistant"]
    assert messages[-3]["id"] == reply_id
    assert messages[-3]["status"] == "stopped"
    assert messages[-3]["content"] == ended["content"]
    assert messages[-2]["content"] == heard["text"]


async def test_refusals_say_why(live_server: LiveServer, http: httpx.Client) -> None:
    conversation = new_conversation(http)

    async def refusal(conv: int, headers: dict[str, str], start: object) -> tuple[str, int]:
        async with open_call(live_server.url, conv, headers, start=False) as call:
            with contextlib.suppress(ConnectionClosed):  # refused before it was asked to start
                await call.socket.send(start if isinstance(start, str) else json.dumps(start))
            error = await call.next("error", timeout=20)
            assert error["fatal"] is True
            assert error["message"]
            deadline = time.monotonic() + 10
            while call.closed is None and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert call.closed is not None
            return str(error["code"]), call.closed[0]

    good = {"type": "start", "sample_rate": RATE}
    headers = cookie_headers(http, live_server.url)
    assert await refusal(conversation, {}, good) == ("not_authenticated", 4401)
    wrong = {"Authorization": "Bearer not-a-token"}
    assert await refusal(conversation, wrong, good) == ("not_authenticated", 4401)
    # A page on another site cannot ride on the user's cookie.
    foreign = {**headers, "Origin": "http://evil.example"}
    assert await refusal(conversation, foreign, good) == ("not_authenticated", 4401)
    assert (await refusal(conversation, headers, "hello"))[1] == 4400
    assert (await refusal(conversation, headers, {"type": "start", "sample_rate": "x"}))[1] == 4400
    assert (await refusal(conversation, headers, {"type": "start", "sample_rate": 5}))[1] == 4400
    other = live_signup(live_server, "someone.else@example.com")
    theirs = new_conversation(other)
    other.close()
    assert await refusal(theirs, headers, good) == ("not_found", 4404)
    assert (await refusal(10**30, headers, good))[1] == 4404


def test_voice_off_refuses_the_call(tmp_path: Path, standin: Any) -> None:
    settings = make_settings(
        tmp_path, str(standin.base_url), voice={"tts_backend": "none", "stt_backend": "none"}
    )
    with LiveServer(settings) as server:
        http = live_signup(server, "quiet@example.com")
        conversation = new_conversation(http)

        async def attempt() -> tuple[dict[str, Any], int]:
            async with open_call(
                server.url, conversation, cookie_headers(http, server.url)
            ) as call:
                error = await call.next("error", timeout=20)
                while call.closed is None:
                    await asyncio.sleep(0.02)
                return error, call.closed[0]

        error, code = asyncio.run(attempt())
        http.close()
    assert (error["code"], code) == ("voice_off", 4503)
    assert "AFTERDARK_VOICE__TTS_BACKEND" in error["message"]


def test_a_call_is_charged_per_the_price_list(tmp_path: Path, standin: Any) -> None:
    """Hearing and speaking are counted over the whole call: two short turns cost one
    started minute heard and one started 1,000 characters spoken, besides the replies."""
    standin.reply = "Yes. The pier is to your left."
    settings = make_settings(tmp_path, str(standin.base_url), sparks={"enabled": True})
    with LiveServer(settings) as server:
        http = live_signup(server, "payer@example.com")
        conversation = new_conversation(http)
        before = http.get("/api/v1/me/sparks").json()

        async def two_turns() -> None:
            async with open_call(
                server.url, conversation, cookie_headers(http, server.url)
            ) as call:
                for question in (QUESTION, "and where is the pier"):
                    mark = len(call.events)
                    await call.say(spoken(question))
                    await call.next("latency", after=mark)
                await call.send({"type": "hangup"})

        asyncio.run(two_turns())
        after = http.get("/api/v1/me/sparks").json()
        lines = http.get("/api/v1/me/sparks/transactions").json()
        http.close()
    charges = [line for line in lines if line["ref"] and line["ref"].startswith("call:")]
    by_action = {line["action"]: line["sparks"] for line in charges}
    assert by_action == {"voice.transcription": -1, "voice.speech": -2}, charges
    assert len(charges) == 2  # settled after each turn, but only what a new unit started
    replies = [line for line in lines if line["action"] == "chat.reply"]
    assert len(replies) == 2
    spent = sum(-line["sparks"] for line in charges + replies)
    had = int(before["free"]) + int(before["wallet"])
    assert had - (int(after["free"]) + int(after["wallet"])) == spent
