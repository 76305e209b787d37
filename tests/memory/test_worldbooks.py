"""World books through the API: import (V3 or SillyTavern), rename, switch off, export both
ways, delete; chosen for every chat, a character's chats or one chat; in chats they stack
after the character's own book."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from afterdark.config import Settings
from afterdark.memory.worldbooks import combined
from tests.conftest import make_settings
from tests.support.shared import CARDS
from tests.web.chat_helpers import events_of

WORLD = CARDS / "st_Eldoria_world_info.json"


@pytest.fixture
def settings(tmp_path: Path, standin: Any) -> Settings:
    return make_settings(tmp_path, standin.base_url)


def upload(name: str, data: bytes) -> dict[str, Any]:
    return {"files": {"file": (name, data, "application/json")}}


async def test_import_edit_export_delete(user_client: httpx.AsyncClient) -> None:
    made = await user_client.post("/api/v1/worldbooks", **upload(WORLD.name, WORLD.read_bytes()))
    assert made.status_code == 201, made.text
    book = made.json()
    assert (book["name"], book["entries"], book["enabled"]) == ("st_Eldoria_world_info", 4, True)
    bid = book["id"]

    renamed = await user_client.patch(
        f"/api/v1/worldbooks/{bid}", json={"name": "Eldoria", "enabled": False}
    )
    assert (renamed.json()["name"], renamed.json()["enabled"]) == ("Eldoria", False)
    listed = (await user_client.get("/api/v1/worldbooks")).json()
    assert [(b["name"], b["entries"], b["enabled"]) for b in listed] == [("Eldoria", 4, False)]

    world = await user_client.get(f"/api/v1/worldbooks/{bid}/export?format=sillytavern")
    assert "Eldoria.world.json" in world.headers["content-disposition"]
    original = json.loads(WORLD.read_text("utf-8"))
    assert json.loads(world.content)["entries"] == original["entries"]  # lossless round trip
    v3 = await user_client.get(f"/api/v1/worldbooks/{bid}/export")
    assert json.loads(v3.content)["spec"] == "lorebook_v3"
    again = await user_client.post("/api/v1/worldbooks", **upload("again.json", v3.content))
    assert again.json()["entries"] == 4

    bad = await user_client.post("/api/v1/worldbooks", **upload("x.json", b'{"hello": 1}'))
    assert bad.status_code == 422
    assert "lorebook" in bad.json()["error"]["message"]
    empty_name = await user_client.patch(f"/api/v1/worldbooks/{bid}", json={"name": "  "})
    assert empty_name.status_code == 422
    broken = await user_client.patch(f"/api/v1/worldbooks/{bid}", json={"book": {"entries": 3}})
    assert broken.status_code == 422

    assert (await user_client.delete(f"/api/v1/worldbooks/{bid}")).status_code == 204
    assert (await user_client.get(f"/api/v1/worldbooks/{bid}")).status_code == 404
    assert len((await user_client.get("/api/v1/worldbooks")).json()) == 1


async def test_world_books_reach_the_chats_they_are_chosen_for(
    user_client: httpx.AsyncClient, standin: Any
) -> None:
    made = await user_client.post("/api/v1/worldbooks", **upload(WORLD.name, WORLD.read_bytes()))
    bid = made.json()["id"]
    character = await user_client.post(
        "/api/v1/characters",
        json={
            "name": "Wren",
            "age": 33,
            "book": {
                "entries": [
                    {"keys": ["forest"], "content": "Wren knows every path.", "enabled": True}
                ]
            },
        },
    )

    async def chat_with(character_id: int) -> dict[str, Any]:
        made = await user_client.post("/api/v1/conversations", json={"character_id": character_id})
        assert made.status_code == 201, made.text
        return dict(made.json())

    async def system_for(chat: dict[str, Any], text: str) -> str:
        standin.requests.clear()
        sent = await user_client.post(
            f"/api/v1/conversations/{chat['id']}/messages", json={"content": text}
        )
        assert sent.status_code == 201, sent.text
        await events_of(user_client, sent.json()["generation_id"])
        return str(standin.requests[-1]["messages"][0]["content"])

    conversation = await chat_with(character.json()["id"])
    on = await system_for(conversation, "Tell me about the magical forest.")
    assert "Wren knows every path." in on
    assert "Eldoria is here, all of the woods" in on
    # The character's own entry comes first.
    assert on.index("Wren knows every path.") < on.index("Eldoria is here")
    await user_client.patch(f"/api/v1/worldbooks/{bid}", json={"enabled": False})
    off = await system_for(conversation, "Back to the forest.")
    assert "Wren knows every path." in off
    assert "Eldoria is here" not in off

    # Chosen for Wren's chats: in this chat and a new one with Wren, not with another.
    wren = character.json()["id"]
    linked = await user_client.put(f"/api/v1/worldbooks/{bid}/characters/{wren}")
    assert linked.status_code == 200, linked.text
    assert (linked.json()["enabled"], linked.json()["characters"]) == (False, [wren])
    again = await user_client.put(f"/api/v1/worldbooks/{bid}/characters/{wren}")
    assert again.json()["characters"] == [wren]  # choosing twice is one link
    assert "Eldoria is here" in await system_for(conversation, "The forest again.")
    second = await chat_with(wren)
    assert "Eldoria is here" in await system_for(second, "A walk in the forest.")
    other = await user_client.post(
        "/api/v1/characters", json={"name": "Tamsin", "age": 40, "description": "A baker."}
    )
    with_other = await chat_with(other.json()["id"])
    assert "Eldoria is here" not in await system_for(with_other, "The forest, then.")

    # Chosen for one chat only.
    unlinked = await user_client.delete(f"/api/v1/worldbooks/{bid}/characters/{wren}")
    assert unlinked.json()["characters"] == []
    chosen = await user_client.put(f"/api/v1/worldbooks/{bid}/conversations/{with_other['id']}")
    assert chosen.json()["conversations"] == [with_other["id"]]
    assert "Eldoria is here" in await system_for(with_other, "And the forest?")
    assert "Eldoria is here" not in await system_for(conversation, "Forest?")
    listed = (await user_client.get("/api/v1/worldbooks")).json()
    assert [(b["characters"], b["conversations"]) for b in listed] == [([], [with_other["id"]])]

    # Deleting the chat takes its link with it.
    gone = await user_client.delete(f"/api/v1/conversations/{with_other['id']}")
    assert gone.status_code in (200, 204), gone.text
    assert (await user_client.get(f"/api/v1/worldbooks/{bid}")).json()["conversations"] == []

    # Targets that are not the user's, or do not exist, are refused with a message.
    missing = await user_client.put(f"/api/v1/worldbooks/{bid}/characters/999999")
    assert missing.status_code == 404
    assert "999999" in missing.json()["error"]["message"]
    nowhere = await user_client.put(f"/api/v1/worldbooks/{bid}/conversations/999999")
    assert nowhere.status_code == 404
    assert (await user_client.put(f"/api/v1/worldbooks/{bid}/users/1")).status_code in (404, 422)
    assert (await user_client.put(f"/api/v1/worldbooks/999999/characters/{wren}")).status_code == (
        404
    )


def test_combining_keeps_sources_apart() -> None:
    class Book:
        def __init__(self, id: int, book: dict[str, Any]) -> None:
            self.id, self.book = id, book

    character = {"entries": [{"id": 0, "keys": ["a"]}], "scan_depth": 6}
    world = {"entries": [{"id": 0, "keys": ["b"]}], "scan_depth": 1, "token_budget": 50}
    merged = combined(character, [Book(7, world)])  # type: ignore[list-item]
    assert [e["id"] for e in merged["entries"]] == ["c:0", "w7:0"]
    assert (merged["scan_depth"], merged["token_budget"]) == (6, 50)
    assert combined(None, [])["entries"] == []
