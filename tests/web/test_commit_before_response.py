"""A write is committed before its response starts: a client is never told of a lost write."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from tests.conftest import signup
from tests.web.test_characters_api import OWN


@pytest.fixture
async def recorded(app: Any) -> AsyncIterator[tuple[httpx.AsyncClient, list[str]]]:
    """A client whose app notes when each response starts, beside the database's commits."""
    order: list[str] = []

    async def recording_app(scope: Any, receive: Any, send: Any) -> None:
        async def noting_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                order.append("response")
            await send(message)

        await app(scope, receive, noting_send)

    transport = httpx.ASGITransport(app=recording_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        await signup(http)
        yield http, order


async def test_commit_happens_before_the_response(
    app: Any, recorded: tuple[httpx.AsyncClient, list[str]]
) -> None:
    client, order = recorded
    engine = app.state.runtime.database.engine.sync_engine

    def on_commit(_connection: Any) -> None:
        order.append("commit")

    event.listen(engine, "commit", on_commit)
    try:
        order.clear()
        response = await client.post("/api/v1/characters", json=OWN)
    finally:
        event.remove(engine, "commit", on_commit)
    assert response.status_code == 201
    assert "commit" in order
    assert order.index("commit") < order.index("response"), order


async def test_a_failed_commit_is_reported_not_hidden(
    app: Any, recorded: tuple[httpx.AsyncClient, list[str]]
) -> None:
    client, _ = recorded
    engine = app.state.runtime.database.engine.sync_engine

    def refuse(_connection: Any) -> None:
        raise RuntimeError("disk full")

    event.listen(engine, "commit", refuse)
    try:
        response = await client.post("/api/v1/characters", json=OWN)
    finally:
        event.remove(engine, "commit", refuse)
    assert response.status_code == 500
    assert (await client.get("/api/v1/characters?mine=true")).json() == []
