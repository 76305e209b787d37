"""The lorebook in real chats: keyed entries reach the prompt where they belong, and sticky
spans carry from turn to turn through the database (sealed with the conversation)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from afterdark.config import Settings
from tests.conftest import make_settings
from tests.web.chat_helpers import events_of


@pytest.fixture
def settings(tmp_path: Path, standin: Any) -> Settings:
    return make_settings(tmp_path, standin.base_url)


BOOK = {
    "entries": [
        {
            "id": "tide",
            "keys": ["tide"],
            "content": "The tide turns at midnight.",
            "enabled": True,
            "insertion_order": 1,
            "extensions": {"sticky": 3},
        },
        {
            "id": "bell",
            "keys": ["bell"],
            "content": "@@depth 1\n@@role system\nThe bell rings twice before a storm.",
            "enabled": True,
            "insertion_order": 2,
        },
    ]
}


async def test_keyed_entries_depth_and_sticky_spans(
    user_client: httpx.AsyncClient, standin: Any
) -> None:
    made = await user_client.post(
        "/api/v1/characters",
        json={"name": "Maren", "age": 41, "description": "A harbour pilot.", "book": BOOK},
    )
    assert made.status_code == 201, made.text
    conversation = (
        await user_client.post("/api/v1/conversations", json={"character_id": made.json()["id"]})
    ).json()

    async def prompt_for(text: str) -> list[dict[str, str]]:
        standin.requests.clear()
        standin.reply = "Aye."
        sent = await user_client.post(
            f"/api/v1/conversations/{conversation['id']}/messages", json={"content": text}
        )
        assert sent.status_code == 201, sent.text
        await events_of(user_client, sent.json()["generation_id"])
        return list(standin.requests[-1]["messages"])

    quiet = await prompt_for("Good evening.")
    assert "tide turns" not in json.dumps(quiet)

    tide = await prompt_for("When is the tide?")
    assert "The tide turns at midnight." in tide[0]["content"]
    # Sticky for 3 messages: the next turn keeps it without the word being said again.
    after = await prompt_for("And the weather?")
    assert "The tide turns at midnight." in after[0]["content"]
    later = await prompt_for("Thank you.")
    assert "tide turns" not in later[0]["content"]

    bell = await prompt_for("I hear a bell.")
    # @@depth 1: one message from the end, as a system message of its own.
    assert bell[-2] == {"role": "system", "content": "The bell rings twice before a storm."}
    assert bell[-1]["content"] == "I hear a bell."
