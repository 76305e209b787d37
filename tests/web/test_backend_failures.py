"""A backend that is down or too slow: the user sees why, and nothing is lost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from afterdark.config import Settings
from tests.conftest import make_settings
from tests.web.chat_helpers import events_of, start_conversation


async def test_backend_down_shows_clear_message(user_client: httpx.AsyncClient) -> None:
    # The default llm_base_url fixture points at a closed loopback port.
    conversation = await start_conversation(user_client)
    response = await user_client.post(
        f"/api/v1/conversations/{conversation['id']}/messages", json={"content": "Anyone?"}
    )
    assert response.status_code == 201
    done = (await events_of(user_client, response.json()["generation_id"]))[-1]["data"]
    assert done["status"] == "error"
    assert "Could not reach the language model server" in done["error"]
    state = (await user_client.get(f"/api/v1/conversations/{conversation['id']}")).json()
    assert state["messages"][-2]["content"] == "Anyone?"
    assert state["messages"][-1]["status"] == "error"


class TestSlowBackend:
    @pytest.fixture
    def settings(self, tmp_path: Path, standin: Any) -> Settings:
        settings = make_settings(tmp_path, standin.base_url)
        settings.llm.first_token_timeout = 0.3
        return settings

    async def test_first_token_timeout(self, user_client: httpx.AsyncClient, standin: Any) -> None:
        standin.first_token_delay = 3
        conversation = await start_conversation(user_client)
        response = await user_client.post(
            f"/api/v1/conversations/{conversation['id']}/messages", json={"content": "Hello?"}
        )
        done = (await events_of(user_client, response.json()["generation_id"]))[-1]["data"]
        assert done["status"] == "error"
        assert "did not start replying within 0.3 s" in done["error"]
