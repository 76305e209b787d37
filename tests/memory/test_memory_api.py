"""The memory API: a character's memories and the user's shared ones, edits, pins, sharing,
deletes, where a memory came from, and what went into a reply; other users see nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from afterdark.accounts import service as accounts_service
from afterdark.config import Settings
from afterdark.memory import service
from afterdark.memory.models import ReplyTrace
from afterdark.runtime import Runtime
from tests.conftest import make_settings, signup
from tests.web.chat_helpers import events_of, start_conversation

EMAIL = "ada@example.com"


@pytest.fixture
def settings(tmp_path: Path, standin: Any) -> Settings:
    # Memory off in chats: replies add no memories or traces of their own, so each test
    # sees exactly what it made. The API works the same either way.
    return make_settings(tmp_path, standin.base_url, memory={"embedder": "fake", "enabled": False})


def runtime_of(app: Any) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime


async def chat_turn(http: httpx.AsyncClient, standin: Any, text: str) -> dict[str, Any]:
    """A real exchange with Mara Quill: the conversation, the user's message and the reply."""
    conversation = await start_conversation(http)
    standin.reply = "Then we take the lantern road, and mind the stairs."
    turn = (
        await http.post(
            f"/api/v1/conversations/{conversation['id']}/messages", json={"content": text}
        )
    ).json()
    await events_of(http, turn["generation_id"])
    return {
        "character_id": conversation["character"]["id"],
        "conversation_id": conversation["id"],
        "user_message_id": turn["user_message"]["id"],
        "reply_id": turn["reply"]["id"],
    }


async def add_from_chat(app: Any, text: str, chat: dict[str, Any], **fields: Any) -> int:
    """A fact as the extractor would make it: from the chat's two messages."""
    runtime = runtime_of(app)
    async with runtime.database.session() as session:
        user = await accounts_service.require_user_by_email(session, EMAIL)
        memory = await service.add_memory(
            session,
            runtime.memory,
            user,
            character_id=chat["character_id"],
            conversation_id=chat["conversation_id"],
            text=text,
            kind=fields.pop("kind", "fact"),
            origin="extracted",
            source_ids=[chat["user_message_id"], chat["reply_id"]],
            **fields,
        )
        await session.commit()
        return memory.id


async def test_notes_listed_edited_pinned_shared_deleted(
    user_client: httpx.AsyncClient, standin: Any
) -> None:
    character = (await start_conversation(user_client))["character"]["id"]
    base = f"/api/v1/characters/{character}/memories"
    assert (await user_client.get(base)).json() == []

    made = await user_client.post(
        base, json={"text": "  Prefers tea to coffee.  ", "category": "preference"}
    )
    assert made.status_code == 201, made.text
    note = made.json()
    assert (note["text"], note["kind"], note["origin"], note["category"]) == (
        "Prefers tea to coffee.",
        "note",
        "user",
        "preference",
    )
    assert (note["pinned"], note["shared"], note["character_id"], note["sources"]) == (
        False,
        False,
        character,
        0,
    )
    shared = (
        await user_client.post(
            base, json={"text": "Lives by the sea.", "category": "user", "shared": True}
        )
    ).json()
    assert (shared["shared"], shared["character_id"]) == (True, None)

    # The character's memories come with the user's shared ones; pinned first, then newest.
    listed = (await user_client.get(base)).json()
    assert [m["id"] for m in listed] == [shared["id"], note["id"]]
    assert (await user_client.get(f"{base}?kind=note")).json() == listed
    assert (await user_client.get(f"{base}?kind=fact")).json() == []

    memory = f"/api/v1/memories/{note['id']}"
    edited = await user_client.patch(
        memory, json={"text": "Prefers green tea.", "category": "user", "pinned": True}
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["text"], edited.json()["category"], edited.json()["pinned"]) == (
        "Prefers green tea.",
        "user",
        True,
    )
    assert [m["id"] for m in (await user_client.get(base)).json()] == [note["id"], shared["id"]]
    unpinned = (await user_client.patch(memory, json={"pinned": False})).json()
    assert unpinned["pinned"] is False
    assert unpinned["text"] == "Prefers green tea."  # what is left out stays

    # Shared with every character, and back: it was made with this character's page, but in
    # no chat, so once shared it stays shared (the service says why).
    assert (await user_client.patch(memory, json={"shared": True})).json()["shared"] is True
    back = await user_client.patch(memory, json={"shared": False})
    assert back.status_code == 422
    assert "stays shared" in back.json()["error"]["message"]
    # Shared memories show with every character.
    catalogue = (await user_client.get("/api/v1/characters")).json()
    other = next(c["id"] for c in catalogue if c["id"] != character)
    mine = (await user_client.get(f"/api/v1/characters/{other}/memories")).json()
    assert {m["id"] for m in mine} == {note["id"], shared["id"]}

    assert (await user_client.get(memory)).json()["text"] == "Prefers green tea."
    assert (await user_client.delete(memory)).status_code == 204
    assert (await user_client.get(memory)).status_code == 404
    assert (await user_client.delete(memory)).status_code == 404
    assert [m["id"] for m in (await user_client.get(base)).json()] == [shared["id"]]


async def test_sources_and_unsharing_a_memory_from_a_chat(
    app: Any, user_client: httpx.AsyncClient, standin: Any
) -> None:
    chat = await chat_turn(user_client, standin, "Shall we take the lantern road?")
    memory_id = await add_from_chat(app, "They plan to take the lantern road.", chat)

    found = (await user_client.get(f"/api/v1/memories/{memory_id}")).json()
    assert (found["sources"], found["origin"], found["conversation_id"]) == (
        2,
        "extracted",
        chat["conversation_id"],
    )
    sources = (await user_client.get(f"/api/v1/memories/{memory_id}/sources")).json()
    assert [(s["message_id"], s["role"]) for s in sources] == [
        (chat["user_message_id"], "user"),
        (chat["reply_id"], "assistant"),
    ]
    assert sources[0]["content"] == "Shall we take the lantern road?"
    assert sources[1]["content"] == "Then we take the lantern road, and mind the stairs."
    assert {s["conversation_id"] for s in sources} == {chat["conversation_id"]}
    assert all(s["created_at"] for s in sources)

    # Made in a chat: sharing it and taking it back returns it to that chat's character.
    url = f"/api/v1/memories/{memory_id}"
    assert (await user_client.patch(url, json={"shared": True})).json()["character_id"] is None
    back = (await user_client.patch(url, json={"shared": False})).json()
    assert (back["shared"], back["character_id"]) == (False, chat["character_id"])

    # Editing the text makes it the user's own words.
    assert (await user_client.patch(url, json={"text": "The lantern road, at dusk."})).json()[
        "origin"
    ] == "user"


async def test_forget_a_character_or_everything(
    app: Any, user_client: httpx.AsyncClient, standin: Any
) -> None:
    chat = await chat_turn(user_client, standin, "Good evening.")
    character = chat["character_id"]
    base = f"/api/v1/characters/{character}/memories"
    await add_from_chat(app, "Greets people in the evening.", chat)
    await add_from_chat(app, "Good evening.", chat, kind="episode")
    await user_client.post(base, json={"text": "Likes the harbour."})
    await user_client.post(base, json={"text": "Walks at dawn.", "shared": True})
    episodes = (await user_client.get(f"{base}?kind=episode")).json()
    assert [m["text"] for m in episodes] == ["Good evening."]

    # The character's own go; the shared one stays.
    forgot = await user_client.delete(base)
    assert forgot.status_code == 200
    assert forgot.json() == {"deleted": 3}
    assert [m["text"] for m in (await user_client.get(base)).json()] == ["Walks at dawn."]

    await user_client.post(base, json={"text": "Likes the harbour."})
    everything = await user_client.delete("/api/v1/memories")
    assert everything.json() == {"deleted": 2}
    assert (await user_client.get(base)).json() == []
    assert (await user_client.delete("/api/v1/memories")).json() == {"deleted": 0}


async def test_what_went_into_a_reply(
    app: Any, user_client: httpx.AsyncClient, standin: Any
) -> None:
    chat = await chat_turn(user_client, standin, "Do you remember the lighthouse?")
    character = chat["character_id"]
    last = f"/api/v1/characters/{character}/memories/last-reply"
    none = await user_client.get(last)
    assert none.status_code == 404
    assert "No reply from" in none.json()["error"]["message"]
    missing = await user_client.get(f"/api/v1/messages/{chat['reply_id']}/trace")
    assert missing.status_code == 404
    assert "no record" in missing.json()["error"]["message"]

    kept = await add_from_chat(app, "They met at the lighthouse.", chat)
    gone = await add_from_chat(app, "It rained that day.", chat)
    runtime = runtime_of(app)
    async with runtime.database.session() as session:
        user = await accounts_service.require_user_by_email(session, EMAIL)
        trace = ReplyTrace(message_id=chat["reply_id"], user_id=user.id)
        trace.memories = [kept, gone]
        trace.lore = [
            {"book": "character", "entry": 3, "name": "The lighthouse"},
            {"book": "world:7", "entry": "w7:0", "name": "Harbour town"},
        ]
        session.add(trace)
        await session.commit()
    assert (await user_client.delete(f"/api/v1/memories/{gone}")).status_code == 204

    for url in (last, f"/api/v1/messages/{chat['reply_id']}/trace"):
        answer = await user_client.get(url)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["message_id"], body["conversation_id"]) == (
            chat["reply_id"],
            chat["conversation_id"],
        )
        assert [m["text"] for m in body["memories"]] == ["They met at the lighthouse."]
        assert body["memories"][0]["sources"] == 2
        assert body["deleted"] == 1
        assert body["lore"] == [
            {"book": "character", "entry": 3, "name": "The lighthouse"},
            {"book": "world:7", "entry": "w7:0", "name": "Harbour town"},
        ]
    # The user's own message has no trace: only replies do.
    own = await user_client.get(f"/api/v1/messages/{chat['user_message_id']}/trace")
    assert own.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/characters/{c}/memories", {}),
        ("post", "/characters/{c}/memories", {"text": ""}),
        ("post", "/characters/{c}/memories", {"text": "x" * 2001}),
        ("post", "/characters/{c}/memories", {"text": "   "}),
        ("post", "/characters/{c}/memories", {"text": "ok", "category": "secrets"}),
        ("post", "/characters/{c}/memories", {"text": "ok", "kind": "fact"}),
        ("post", "/characters/{c}/memories", {"text": "ok", "importance": 2}),
        ("patch", "/memories/{m}", {"text": ""}),
        ("patch", "/memories/{m}", {"text": " \n "}),
        ("patch", "/memories/{m}", {"category": "nope"}),
        ("patch", "/memories/{m}", {"pinned": "maybe"}),
        ("patch", "/memories/{m}", {"character_id": 1}),
        ("get", "/characters/{c}/memories?kind=dream", None),
        ("get", "/memories/0", None),
        ("get", "/memories/99999999999999999999", None),
    ],
)
async def test_bad_input_is_a_422_with_a_message(
    user_client: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    character = (await start_conversation(user_client))["character"]["id"]
    note = await user_client.post(
        f"/api/v1/characters/{character}/memories", json={"text": "A quiet note."}
    )
    url = "/api/v1" + path.format(c=character, m=note.json()["id"])
    response = await user_client.request(method, url, **({} if body is None else {"json": body}))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"]


async def test_missing_things_are_404(user_client: httpx.AsyncClient) -> None:
    for method, url in [
        ("get", "/api/v1/characters/987654/memories"),
        ("post", "/api/v1/characters/987654/memories"),
        ("delete", "/api/v1/characters/987654/memories"),
        ("get", "/api/v1/characters/987654/memories/last-reply"),
        ("get", "/api/v1/memories/987654"),
        ("patch", "/api/v1/memories/987654"),
        ("delete", "/api/v1/memories/987654"),
        ("get", "/api/v1/memories/987654/sources"),
        ("get", "/api/v1/messages/987654/trace"),
    ]:
        body = {"text": "hello"} if method in ("post", "patch") else None
        response = await user_client.request(method, url, json=body)
        assert response.status_code == 404, (method, url, response.text)
        assert response.json()["error"]["code"] == "not_found"


async def test_another_users_memories_are_not_found(
    app: Any, user_client: httpx.AsyncClient, standin: Any
) -> None:
    chat = await chat_turn(user_client, standin, "A secret between us.")
    memory_id = await add_from_chat(app, "Keeps the key under the blue pot.", chat)
    private = await user_client.post(
        "/api/v1/characters", json={"name": "Private Person", "age": 30}
    )
    private_id = private.json()["id"]
    await user_client.post(
        f"/api/v1/characters/{private_id}/memories", json={"text": "Only for the owner."}
    )

    other = httpx.AsyncClient(transport=user_client._transport, base_url="http://test")
    async with other:
        await signup(other, email="eve@example.com")
        for method, url in [
            ("get", f"/api/v1/memories/{memory_id}"),
            ("patch", f"/api/v1/memories/{memory_id}"),
            ("delete", f"/api/v1/memories/{memory_id}"),
            ("get", f"/api/v1/memories/{memory_id}/sources"),
            ("get", f"/api/v1/messages/{chat['reply_id']}/trace"),
            ("get", f"/api/v1/characters/{private_id}/memories"),
            ("post", f"/api/v1/characters/{private_id}/memories"),
            ("delete", f"/api/v1/characters/{private_id}/memories"),
            ("get", f"/api/v1/characters/{private_id}/memories/last-reply"),
        ]:
            body = {"text": "intruder"} if method in ("post", "patch") else None
            response = await other.request(method, url, json=body)
            assert response.status_code == 404, (method, url, response.text)
            assert "blue pot" not in response.text
        # Sharing is no way round the character check.
        shared = await other.post(
            f"/api/v1/characters/{private_id}/memories", json={"text": "x", "shared": True}
        )
        assert shared.status_code == 404
        # Their own list of a built-in character holds none of the owner's memories.
        theirs = await other.get(f"/api/v1/characters/{chat['character_id']}/memories")
        assert theirs.json() == []
        assert (await other.delete("/api/v1/memories")).json() == {"deleted": 0}

    assert (await user_client.get(f"/api/v1/memories/{memory_id}")).json()["text"] == (
        "Keeps the key under the blue pot."
    )
    assert len((await user_client.get(f"/api/v1/characters/{private_id}/memories")).json()) == 1
