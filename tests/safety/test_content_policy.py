"""The content rules each prompt carries: the hard limits always, the rating's rule after
them, and explicit wording only for a verified adult who turned it on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from afterdark.config import Settings
from afterdark.safety import content
from tests.conftest import make_settings, signup
from tests.web.chat_helpers import events_of, start_conversation


def test_every_rating_carries_the_hard_limits() -> None:
    for rating in ("general", "mature", "explicit", "unknown"):
        for adult in (False, True):
            assert content.policy(rating, adult).startswith(content.HARD_LIMITS)
    assert content.policy("general", True).endswith(content.RATING_POLICY["general"])
    assert content.policy("unknown", True).endswith(content.RATING_POLICY["general"])
    # Explicit wording only for an allowed adult; anyone else gets the mature rules.
    assert content.policy("explicit", True).endswith(content.RATING_POLICY["explicit"])
    assert content.policy("explicit", False).endswith(content.RATING_POLICY["mature"])


@pytest.fixture
def settings(tmp_path: Path, standin: Any) -> Settings:
    return make_settings(tmp_path, standin.base_url)


async def test_the_model_is_given_the_rules_last_in_the_system_prompt(
    client: httpx.AsyncClient, standin: Any
) -> None:
    await signup(client)
    made = await client.post(
        "/api/v1/characters",
        json={"name": "Noor", "age": 31, "rating": "mature", "description": "A cartographer."},
    )
    assert made.status_code == 201, made.text
    conversation = await start_conversation(client, name="Noor")
    standin.requests.clear()
    turn = await client.post(
        f"/api/v1/conversations/{conversation['id']}/messages", json={"content": "Hello"}
    )
    await events_of(client, turn.json()["generation_id"])
    [request] = standin.requests
    system = request["messages"][0]
    assert system["role"] == "system"
    assert "A cartographer." in system["content"]
    expected = content.policy("mature", adult=False).replace("{{user}}", "")
    assert system["content"].endswith(expected)
    assert "Explicit content" not in system["content"]
