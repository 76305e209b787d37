"""Deleting an account leaves nothing readable: not in the rows, the SQLite file, its
write-ahead log or the data folder; other users keep everything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from afterdark.config import Settings
from afterdark.store import models
from tests.conftest import PASSWORD, make_settings, signup
from tests.support.shared import CARDS
from tests.web.chat_helpers import events_of, start_conversation

SECRET_MESSAGE = "Marmalade-lighthouse-3391"
SECRET_PERSONA = "Quartz-heron-8812"
SECRET_CHARACTER = "Velvet-comet-5520"


@pytest.fixture
def settings(tmp_path: Path, standin: Any) -> Settings:
    return make_settings(tmp_path, standin.base_url)


def raw_bytes(data_dir: Path) -> bytes:
    """Every byte of every file in the data folder: the database, its WAL, stored files."""
    return b"".join(p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file())


async def fill(http: httpx.AsyncClient, standin: Any, tag: str) -> int:
    await http.put(
        "/api/v1/me/persona", json={"name": "Me", "description": f"{SECRET_PERSONA}{tag}"}
    )
    made = await http.post(
        "/api/v1/characters",
        json={"name": "Private", "age": 30, "description": f"{SECRET_CHARACTER}{tag}"},
    )
    imported = await http.post(
        "/api/v1/characters/import",
        files=[("files", ("s.png", (CARDS / "choral_Default-chan_v3.png").read_bytes(), "x"))],
    )
    assert imported.json()[0]["character"]
    conversation = await start_conversation(http, name="Private")
    standin.reply = f"Reply {SECRET_MESSAGE}{tag}"
    turn = await http.post(
        f"/api/v1/conversations/{conversation['id']}/messages",
        json={"content": f"{SECRET_MESSAGE}{tag}"},
    )
    await events_of(http, turn.json()["generation_id"])
    return int(made.json()["id"])


async def test_account_deletion_leaves_nothing_to_recover(
    app: Any, client: httpx.AsyncClient, settings: Settings, standin: Any
) -> None:
    await signup(client, email="stay@example.com")
    await fill(client, standin, "-stay")
    leaving = httpx.AsyncClient(transport=client._transport, base_url="http://test")
    async with leaving:
        await signup(leaving, email="leave@example.com")
        await fill(leaving, standin, "-gone")
        before = raw_bytes(settings.data_dir)
        assert f"{SECRET_MESSAGE}-gone".encode() in before  # (sealing this text is still to come)
        files_before = len(list((settings.data_dir / "files").rglob("*")))

        wrong = await leaving.request("DELETE", "/api/v1/me", json={"password": "not it at all"})
        assert wrong.status_code == 403
        assert (await leaving.get("/api/v1/me")).status_code == 200
        gone = await leaving.request("DELETE", "/api/v1/me", json={"password": PASSWORD})
        assert gone.status_code == 204
        assert (await leaving.get("/api/v1/me")).status_code == 401

    after = raw_bytes(settings.data_dir)
    for secret in (SECRET_MESSAGE, SECRET_PERSONA, SECRET_CHARACTER):
        assert f"{secret}-gone".encode() not in after, secret
        assert f"{secret}-stay".encode() in after, secret  # the other user keeps theirs
    assert len(list((settings.data_dir / "files").rglob("*"))) < files_before
    async with app.state.runtime.database.session() as session:
        for table in (models.User, models.Character, models.Conversation, models.Message):
            assert await session.scalar(select(func.count()).select_from(table)) >= 1
        emails = list(await session.scalars(select(models.User.email)))
    assert emails == ["stay@example.com"]
    assert (await client.get("/api/v1/me")).status_code == 200
