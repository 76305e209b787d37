"""Healthy use over the API: usage, the user's own limits, and a hard stop when asked for."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import signup
from tests.web.chat_helpers import events_of, start_conversation


@pytest.fixture
def llm_base_url(standin: Any) -> str:
    return str(standin.base_url)


async def test_usage_limits_and_hard_stop(client: httpx.AsyncClient, standin: Any) -> None:
    await signup(client)
    defaults = (await client.get("/api/v1/me/wellbeing")).json()
    assert defaults == {
        "daily_minutes": None,
        "daily_messages": None,
        "break_minutes": 60,
        "nudges": True,
        "hard_stop": False,
        "timezone": "UTC",
    }
    bad = await client.put("/api/v1/me/wellbeing", json={**defaults, "timezone": "Nowhere/Land"})
    assert bad.status_code == 422
    assert "time zone" in bad.json()["error"]["message"]
    assert (await client.get("/api/v1/me/usage?tz=Nowhere/Land")).status_code == 422

    conversation = await start_conversation(client)
    standin.reply = "Hello."
    url = f"/api/v1/conversations/{conversation['id']}/messages"
    first = await client.post(url, json={"content": "one"})
    assert first.status_code == 201
    await events_of(client, first.json()["generation_id"])
    usage = (await client.get("/api/v1/me/usage?tz=Europe/Paris")).json()
    assert usage["timezone"] == "Europe/Paris"
    assert usage["today"]["messages"] == 1
    assert usage["today"]["minutes"] == 1
    assert usage["nudge"] is None

    soft = {**defaults, "daily_messages": 1, "timezone": "Europe/Paris"}
    assert (await client.put("/api/v1/me/wellbeing", json=soft)).status_code == 200
    usage = (await client.get("/api/v1/me/usage")).json()
    assert usage["timezone"] == "Europe/Paris"  # the saved zone
    assert usage["nudge"]["kind"] == "limit_messages"
    second = await client.post(url, json={"content": "two"})
    assert second.status_code == 201  # a reminder only
    await events_of(client, second.json()["generation_id"])

    assert (
        await client.put("/api/v1/me/wellbeing", json={**soft, "hard_stop": True})
    ).status_code == 200
    stopped = await client.post(url, json={"content": "three"})
    assert stopped.status_code == 429
    assert "resets at midnight" in stopped.json()["error"]["message"]
    assert int(stopped.headers["retry-after"]) <= 86400
