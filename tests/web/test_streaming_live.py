"""Streaming over a real uvicorn server on loopback: incremental delivery, stop, write batching."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from tests.conftest import LiveServer, live_signup
from tests.web.chat_helpers import parse_sse


@pytest.fixture
def llm_base_url(standin: Any) -> str:
    return str(standin.base_url)


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    client = live_signup(live_server)
    try:
        yield client
    finally:
        client.close()


def new_conversation(http: httpx.Client) -> int:
    character = http.get("/api/v1/characters").json()[0]["id"]
    return int(http.post("/api/v1/conversations", json={"character_id": character}).json()["id"])


def test_tokens_arrive_incrementally_and_stop_keeps_partial(
    http: httpx.Client, standin: Any
) -> None:
    standin.reply = " ".join(f"word{i}" for i in range(200))
    standin.token_delay = 0.02
    conversation = new_conversation(http)
    turn = http.post(
        f"/api/v1/conversations/{conversation}/messages", json={"content": "Talk to me."}
    ).json()
    arrivals: list[float] = []
    body = ""
    with http.stream("GET", f"/api/v1/generations/{turn['generation_id']}/events") as response:
        for chunk in response.iter_text():
            body += chunk
            if "event: token" in chunk:
                arrivals.append(time.monotonic())
                if len(arrivals) == 5:
                    stopped = http.post(f"/api/v1/generations/{turn['generation_id']}/stop")
                    assert stopped.json() == {"stopped": True}
    assert arrivals[4] - arrivals[0] > 0.03  # spread out in time, not one buffered blob
    done = parse_sse(body)[-1]["data"]
    assert done["status"] == "stopped"
    assert 0 < len(done["content"]) < len(standin.reply)
    state = http.get(f"/api/v1/conversations/{conversation}").json()
    assert state["messages"][-1]["status"] == "stopped"
    assert state["messages"][-1]["content"] == done["content"]
    assert state["generation_id"] is None
    # A stopped reply can be continued.
    standin.token_delay = 0
    standin.reply = " The end."
    again = http.post(f"/api/v1/messages/{turn['reply']['id']}/continue").json()
    events = parse_sse(http.get(f"/api/v1/generations/{again['generation_id']}/events").text)
    assert events[-1]["data"]["content"] == done["content"] + " The end."


def test_partial_text_is_saved_in_batches_not_per_token(
    live_server: LiveServer, http: httpx.Client, standin: Any
) -> None:
    runtime = live_server.server.config.app.state.runtime
    statements: list[str] = []
    engine = runtime.database.engine.sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE MESSAGES"):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    standin.reply = " ".join(f"w{i}" for i in range(60))
    standin.token_delay = 0.01
    conversation = new_conversation(http)
    turn = http.post(
        f"/api/v1/conversations/{conversation}/messages", json={"content": "Count."}
    ).json()
    seen_partial = False
    with http.stream("GET", f"/api/v1/generations/{turn['generation_id']}/events") as response:
        for chunk in response.iter_text():
            if "event: token" in chunk and not seen_partial and len(statements) >= 1:
                state = http.get(f"/api/v1/conversations/{conversation}").json()
                reply = state["messages"][-1]
                if reply["status"] == "streaming" and reply["content"]:
                    seen_partial = True
    event.remove(engine, "before_cursor_execute", record)
    assert seen_partial, "the streaming reply's text should be readable before it ends"
    # 60 tokens over ~0.6 s with a 0.05 s flush interval: a dozen saves at most, not 60.
    assert 1 <= len(statements) <= 20


def test_cancelled_client_does_not_stop_generation(http: httpx.Client, standin: Any) -> None:
    standin.reply = " ".join(f"t{i}" for i in range(30))
    standin.token_delay = 0.01
    conversation = new_conversation(http)
    turn = http.post(
        f"/api/v1/conversations/{conversation}/messages", json={"content": "Go."}
    ).json()
    with http.stream("GET", f"/api/v1/generations/{turn['generation_id']}/events") as response:
        for chunk in response.iter_text():
            if "event: token" in chunk:
                break  # the browser tab closes mid-reply
    events = parse_sse(http.get(f"/api/v1/generations/{turn['generation_id']}/events").text)
    assert events[-1]["data"]["status"] == "complete"
    assert events[-1]["data"]["content"] == standin.reply
