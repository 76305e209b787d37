"""Memory in real chats, through the API and the OpenAI-protocol stand-in on loopback:
what was said in one chat reaches the prompt of a later chat with the same character, and
the reply records which memories and lorebook entries went into it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from afterdark.config import Settings
from tests.conftest import make_settings
from tests.web.chat_helpers import events_of, start_conversation


@pytest.fixture
def settings(tmp_path: Path, standin: Any) -> Settings:
    return make_settings(
        tmp_path,
        standin.base_url,
        memory={"embedder": "fake", "extract_facts": True, "summary_every": 50},
    )


async def say(client: httpx.AsyncClient, conversation_id: int, text: str) -> dict[str, Any]:
    sent = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages", json={"content": text}
    )
    assert sent.status_code == 201, sent.text
    await events_of(client, sent.json()["generation_id"])
    return dict(sent.json())


async def drain(app: Any) -> None:
    await app.state.runtime.jobs.drain()


def system_prompt(request: dict[str, Any]) -> str:
    return str(request["messages"][0]["content"])


async def test_a_fact_from_an_earlier_chat_reaches_the_prompt(
    user_client: httpx.AsyncClient, app: Any, standin: Any
) -> None:
    first = await start_conversation(user_client)
    # The model answers the chat and, asked for facts after the turn, the same JSON: one fact.
    fact = "The user's sister Ilse runs a bakery in Porto."
    standin.reply = json.dumps([{"op": "add", "text": fact, "category": "user"}])
    turn = await say(user_client, first["id"], "My sister Ilse runs a bakery in Porto.")
    await drain(app)

    memories = (
        await user_client.get(f"/api/v1/characters/{first['character']['id']}/memories")
    ).json()
    facts = [m for m in memories if m["kind"] == "fact"]
    assert [m["text"] for m in facts] == [fact]
    sources = (await user_client.get(f"/api/v1/memories/{facts[0]['id']}/sources")).json()
    assert turn["user_message"]["id"] in [s["message_id"] for s in sources]
    episodes = [m for m in memories if m["kind"] == "episode"]
    assert any("Ilse runs a bakery" in m["text"] for m in episodes)

    # A new chat with the same character, days later in story terms.
    standin.reply = "Of course I remember."
    standin.requests.clear()
    second = await start_conversation(user_client)
    assert second["id"] != first["id"]
    reply = await say(user_client, second["id"], "Do you remember where my sister works?")
    chat_requests = [r for r in standin.requests if r.get("stream")]
    prompt = system_prompt(chat_requests[0])
    assert "Things you remember:" in prompt
    assert fact in prompt

    trace = (await user_client.get(f"/api/v1/messages/{reply['reply']['id']}/trace")).json()
    assert facts[0]["id"] in [m["id"] for m in trace["memories"]]
    last = await user_client.get(
        f"/api/v1/characters/{first['character']['id']}/memories/last-reply"
    )
    assert last.status_code == 200
    assert last.json()["message_id"] == reply["reply"]["id"]


async def test_deleting_the_source_message_forgets_what_came_from_it(
    user_client: httpx.AsyncClient, app: Any, standin: Any
) -> None:
    conversation = await start_conversation(user_client)
    fact = "The user keeps a lemon tree on the balcony."
    standin.reply = json.dumps([{"op": "add", "text": fact, "category": "user"}])
    turn = await say(user_client, conversation["id"], "I keep a lemon tree on my balcony.")
    await drain(app)
    url = f"/api/v1/characters/{conversation['character']['id']}/memories"
    assert any(m["text"] == fact for m in (await user_client.get(url)).json())

    deleted = await user_client.delete(f"/api/v1/messages/{turn['user_message']['id']}")
    assert deleted.status_code in (200, 204), deleted.text
    left = (await user_client.get(url)).json()
    assert not any("lemon" in m["text"] for m in left)


async def test_a_note_the_user_adds_is_used_and_can_be_turned_off(
    user_client: httpx.AsyncClient, app: Any, standin: Any
) -> None:
    conversation = await start_conversation(user_client)
    url = f"/api/v1/characters/{conversation['character']['id']}/memories"
    note = await user_client.post(
        url, json={"text": "Call the user Captain.", "category": "preference", "pinned": True}
    )
    assert note.status_code == 201, note.text
    standin.reply = "Aye."
    standin.requests.clear()
    await say(user_client, conversation["id"], "Good evening.")
    assert "Call the user Captain." in system_prompt(standin.requests[0])
    await drain(app)

    removed = await user_client.delete(f"/api/v1/memories/{note.json()['id']}")
    assert removed.status_code == 204
    standin.requests.clear()
    await say(user_client, conversation["id"], "Good evening again.")
    assert "Captain" not in system_prompt(standin.requests[0])


async def test_memory_that_fails_never_stops_a_reply(
    user_client: httpx.AsyncClient, app: Any, standin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation = await start_conversation(user_client)
    url = f"/api/v1/characters/{conversation['character']['id']}/memories"
    assert (await user_client.post(url, json={"text": "Likes tea."})).status_code == 201

    async def broken() -> Any:
        raise RuntimeError("the embedding model could not be loaded")

    monkeypatch.setattr(app.state.runtime.memory, "embedder", broken)
    standin.reply = "Still here."
    standin.requests.clear()
    sent = await user_client.post(
        f"/api/v1/conversations/{conversation['id']}/messages", json={"content": "Hello?"}
    )
    assert sent.status_code == 201, sent.text
    done = (await events_of(user_client, sent.json()["generation_id"]))[-1]["data"]
    assert (done["status"], done["content"]) == ("complete", "Still here.")
    assert "Things you remember" not in system_prompt(standin.requests[0])


async def test_editing_a_message_replaces_what_the_model_drew_from_it(
    user_client: httpx.AsyncClient, app: Any, standin: Any
) -> None:
    conversation = await start_conversation(user_client)
    url = f"/api/v1/characters/{conversation['character']['id']}/memories"
    old, new = "The user lives in Paris.", "The user lives in Lyon."
    standin.reply = json.dumps([{"op": "add", "text": old, "category": "user"}])
    turn = await say(user_client, conversation["id"], "I moved to Paris last spring.")
    await drain(app)
    assert [m["text"] for m in (await user_client.get(url)).json() if m["kind"] == "fact"] == [old]
    note = await user_client.post(url, json={"text": "Likes rain.", "category": "preference"})
    assert note.status_code == 201, note.text

    standin.reply = json.dumps([{"op": "add", "text": new, "category": "user"}])
    user_message = turn["user_message"]["id"]
    edited = await user_client.patch(
        f"/api/v1/messages/{user_message}", json={"content": "I moved to Lyon last spring."}
    )
    assert edited.status_code == 200, edited.text
    await drain(app)
    memories = (await user_client.get(url)).json()
    facts = [m for m in memories if m["kind"] == "fact"]
    assert [m["text"] for m in facts] == [new]
    sources = (await user_client.get(f"/api/v1/memories/{facts[0]['id']}/sources")).json()
    assert user_message in [s["message_id"] for s in sources]
    assert any(m["text"] == "Likes rain." for m in memories)  # the user's own note stays
    episodes = [m["text"] for m in memories if m["kind"] == "episode"]
    # (The stand-in's reply, the JSON above, is an episode too: look at the user's line.)
    assert any("moved to Lyon" in text for text in episodes)
    assert not any("moved to Paris" in text for text in episodes)

    # The same text again changes nothing: the fact stays, the model is not asked.
    standin.requests.clear()
    same = await user_client.patch(
        f"/api/v1/messages/{user_message}", json={"content": "I moved to Lyon last spring."}
    )
    assert same.status_code == 200
    await drain(app)
    assert standin.requests == []
    after = [m["text"] for m in (await user_client.get(url)).json() if m["kind"] == "fact"]
    assert after == [new]
