"""Replies are paid for in Sparks: held at the start, charged by the tokens written, free
when they fail, refused (402) when the user cannot pay. Against the OpenAI stand-in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from afterdark.accounts.models import User
from afterdark.config import Settings
from afterdark.credits.models import SparkTransfer
from afterdark.runtime import Runtime
from tests.conftest import make_settings
from tests.web.chat_helpers import events_of, start_conversation

SPARKS = {"enabled": True, "daily_allowance": 40, "daily_cap": 40, "reply_tokens_per_spark": 10}


@pytest.fixture
def settings(tmp_path: Path, standin: Any) -> Settings:
    return make_settings(tmp_path, str(standin.base_url), sparks=SPARKS)


def runtime_of(client: httpx.AsyncClient) -> Runtime:
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    runtime: Runtime = transport.app.state.runtime  # type: ignore[attr-defined]
    return runtime


async def user_id(runtime: Runtime, email: str = "ada@example.com") -> int:
    async with runtime.database.session() as session:
        found = await session.scalar(select(User.id).where(User.email == email))
    assert found is not None
    return found


async def set_max_tokens(http: httpx.AsyncClient, conversation_id: int, tokens: int) -> None:
    response = await http.patch(
        f"/api/v1/conversations/{conversation_id}", json={"sampler": {"max_tokens": tokens}}
    )
    assert response.status_code == 200, response.text


async def test_a_reply_is_charged_by_the_tokens_it_wrote(
    user_client: httpx.AsyncClient, standin: Any
) -> None:
    runtime = runtime_of(user_client)
    me = await user_id(runtime)
    standin.reply = None
    standin.tokens = 25  # 25 tokens at 10 per Spark: 3 Sparks
    conversation = await start_conversation(user_client)
    await set_max_tokens(user_client, conversation["id"], 200)  # holds 20
    sent = await user_client.post(
        f"/api/v1/conversations/{conversation['id']}/messages", json={"content": "Hello there"}
    )
    assert sent.status_code == 201, sent.text
    events = await events_of(user_client, sent.json()["generation_id"])
    assert events[-1]["data"]["status"] == "complete"
    statement = await runtime.sparks.statement(me)
    assert (statement.available, statement.held) == (37, 0)
    async with runtime.database.session() as session:
        rows = (
            await session.scalars(select(SparkTransfer).where(SparkTransfer.user_id == me))
        ).all()
    by_phase = {row.phase: row for row in rows if row.kind != "daily"}
    assert by_phase["pending"].amount == 20
    assert by_phase["pending"].action == "chat.reply"
    assert by_phase["pending"].ref == f"generation:{sent.json()['generation_id']}"
    assert by_phase["post"].amount == 3


async def test_a_failed_reply_costs_nothing(user_client: httpx.AsyncClient, standin: Any) -> None:
    runtime = runtime_of(user_client)
    me = await user_id(runtime)
    standin.fail_status = 500
    conversation = await start_conversation(user_client)
    await set_max_tokens(user_client, conversation["id"], 100)
    sent = await user_client.post(
        f"/api/v1/conversations/{conversation['id']}/messages", json={"content": "Hello there"}
    )
    assert sent.status_code == 201, sent.text
    events = await events_of(user_client, sent.json()["generation_id"])
    assert events[-1]["data"]["status"] == "error"
    statement = await runtime.sparks.statement(me)
    assert (statement.available, statement.held) == (40, 0)


async def test_a_reply_the_user_cannot_pay_for_is_refused_and_nothing_is_saved(
    user_client: httpx.AsyncClient, standin: Any
) -> None:
    runtime = runtime_of(user_client)
    me = await user_id(runtime)
    conversation = await start_conversation(user_client)
    await set_max_tokens(user_client, conversation["id"], 500)  # holds 50 of 40
    asked = len(standin.requests)
    refused = await user_client.post(
        f"/api/v1/conversations/{conversation['id']}/messages", json={"content": "Hello there"}
    )
    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "payment_required"
    assert "needs 50 and you have 40" in refused.json()["error"]["message"]
    shown = await user_client.get(f"/api/v1/conversations/{conversation['id']}")
    assert [m["role"] for m in shown.json()["messages"]] == ["assistant"]  # the greeting only
    assert (await runtime.sparks.statement(me)).available == 40
    assert len(standin.requests) == asked  # the model was never asked


async def test_a_reused_generation_id_is_charged_as_a_new_reply(
    user_client: httpx.AsyncClient, standin: Any
) -> None:
    """SQLite gives a deleted row's id to the next row: a deleted chat's generation id
    comes back, and its reply must still be held and charged on its own."""
    runtime = runtime_of(user_client)
    me = await user_id(runtime)
    standin.reply, standin.tokens = None, 5  # 1 Spark
    first = await start_conversation(user_client)
    sent = await user_client.post(
        f"/api/v1/conversations/{first['id']}/messages", json={"content": "Hello there"}
    )
    await events_of(user_client, sent.json()["generation_id"])
    assert (await user_client.delete(f"/api/v1/conversations/{first['id']}")).status_code == 204
    second = await start_conversation(user_client)
    again = await user_client.post(
        f"/api/v1/conversations/{second['id']}/messages", json={"content": "Hello again"}
    )
    assert again.status_code == 201, again.text
    events = await events_of(user_client, again.json()["generation_id"])
    assert events[-1]["data"]["status"] == "complete"
    assert (await runtime.sparks.statement(me)).available == 38
