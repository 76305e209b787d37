"""Raw-file tests of sealing and deletion, on SQLite and PostgreSQL.

Before deletion, no user text is readable anywhere in the files: the SQLite database and
its write-ahead log, PostgreSQL's data directory (heap, indexes, WAL) after a checkpoint,
and the data folder's stored files. After an account deletion, the user's rows, files and
keys are gone, and what was sealed with those keys no longer opens; the other user keeps
everything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from afterdark.config import Settings
from afterdark.privacy.cipher import SealError
from afterdark.privacy.keyring import Keyring
from afterdark.privacy.sealing import open_fields
from afterdark.store import models
from tests.conftest import PASSWORD, make_settings, signup
from tests.support.shared import CARDS
from tests.web.chat_helpers import events_of, start_conversation

pytestmark = pytest.mark.xdist_group("postgres")

SECRET_MESSAGE = "Marmalade-lighthouse-3391"
SECRET_REPLY = "Driftwood-lantern-7046"
SECRET_PERSONA = "Quartz-heron-8812"
SECRET_CHARACTER = "Velvet-comet-5520"
SECRET_SCENE = "Saffron-harbour-1187"
SECRET_WORLD = "Cobalt-orchard-6402"
SECRET_MEMORY = "Juniper-sextant-2958"
CARD = CARDS / "choral_Default-chan_v3.png"
CARD_NAME = b"Default-chan"  # the imported card's character name


@pytest.fixture
def settings(tmp_path: Path, standin: Any, database_url: str) -> Settings:
    return make_settings(
        tmp_path,
        standin.base_url,
        database_url=database_url,
        memory={"embedder": "fake", "extract_facts": False},
    )


async def raw_bytes(app: Any, settings: Settings, request: pytest.FixtureRequest) -> bytes:
    """Every byte the instance has on disk: the data folder, and PostgreSQL's data
    directory once a checkpoint has written every changed page out."""
    paths = [settings.data_dir]
    database = app.state.runtime.database
    if database.is_sqlite:  # the database, its WAL and shared-memory index
        db_file = Path(str(database.engine.url.database))
        paths += list(db_file.parent.glob(db_file.name + "*"))
    else:
        async with database.engine.connect() as connection:
            await connection.execute(text("CHECKPOINT"))
        paths.append(Path(request.getfixturevalue("pg_cluster").pgdata))
    files = [f for root in paths for f in ([root] if root.is_file() else sorted(root.rglob("*")))]
    return b"".join(f.read_bytes() for f in files if f.is_file())


async def fill(http: httpx.AsyncClient, standin: Any, tag: str) -> int:
    persona = await http.put(
        "/api/v1/me/persona", json={"name": "Me", "description": f"{SECRET_PERSONA}{tag}"}
    )
    assert persona.status_code == 200, persona.text
    made = await http.post(
        "/api/v1/characters",
        json={"name": "Private", "age": 30, "description": f"{SECRET_CHARACTER}{tag}"},
    )
    assert made.status_code == 201, made.text
    imported = await http.post(
        "/api/v1/characters/import", files=[("files", ("s.png", CARD.read_bytes(), "x"))]
    )
    assert imported.json()[0]["character"]
    world = json.dumps({"entries": {"0": {"uid": 0, "key": ["k"], "content": SECRET_WORLD + tag}}})
    added = await http.post(
        "/api/v1/worldbooks", files={"file": ("w.json", world.encode(), "application/json")}
    )
    assert added.status_code == 201, added.text
    conversation = await start_conversation(http, name="Private", scene=f"{SECRET_SCENE}{tag}")
    standin.reply = f"Reply {SECRET_REPLY}{tag}"
    turn = await http.post(
        f"/api/v1/conversations/{conversation['id']}/messages",
        json={"content": f"{SECRET_MESSAGE}{tag}"},
    )
    await events_of(http, turn.json()["generation_id"])
    note = await http.post(
        f"/api/v1/characters/{conversation['character']['id']}/memories",
        json={"text": f"The user once mentioned {SECRET_MEMORY}{tag}.", "pinned": True},
    )
    assert note.status_code == 201, note.text
    return int(conversation["id"])


async def sealed_message(app: Any, conversation_id: int) -> tuple[int, int, bytes]:
    async with app.state.runtime.database.session() as session:
        row = (
            await session.execute(
                select(models.Message.id, models.Message.user_id, models.Message.sealed)
                .where(models.Message.conversation_id == conversation_id)
                .order_by(models.Message.id.desc())
            )
        ).first()
    assert row is not None
    return row.id, row.user_id, row.sealed


async def memory_ids(app: Any, email: str) -> list[int]:
    async with app.state.runtime.database.session() as session:
        return list(
            await session.scalars(
                select(models.Memory.id)
                .join(models.User, models.User.id == models.Memory.user_id)
                .where(models.User.email == email)
            )
        )


async def term_rows(app: Any, ids: list[int]) -> int:
    """Rows of the blind lexical index that belong to these memories."""
    database = app.state.runtime.database
    column = "rowid" if database.is_sqlite else "memory_id"
    async with database.session() as session:
        found = await session.scalar(
            text(f"SELECT count(*) FROM memory_terms WHERE {column} IN ({','.join(map(str, ids))})")
        )
    return int(found or 0)


async def test_no_plaintext_before_deletion_and_nothing_recoverable_after(
    app: Any,
    client: httpx.AsyncClient,
    settings: Settings,
    standin: Any,
    request: pytest.FixtureRequest,
) -> None:
    await signup(client, email="stay@example.com")
    kept_conversation = await fill(client, standin, "-stay")
    leaving = httpx.AsyncClient(transport=client._transport, base_url="http://test")
    async with leaving:
        await signup(leaving, email="leave@example.com")
        conversation_id = await fill(leaving, standin, "-gone")
        # What the user sees is all there...
        shown = (await leaving.get(f"/api/v1/conversations/{conversation_id}")).text
        assert f"{SECRET_MESSAGE}-gone" in shown
        assert f"{SECRET_REPLY}-gone" in shown
        # ...and none of it is readable in the files.
        before = await raw_bytes(app, settings, request)
        secrets = (
            SECRET_MESSAGE,
            SECRET_REPLY,
            SECRET_PERSONA,
            SECRET_CHARACTER,
            SECRET_SCENE,
            SECRET_WORLD,
            SECRET_MEMORY,
        )
        await app.state.runtime.jobs.drain()  # the turn's episodes are written
        gone_memories = await memory_ids(app, "leave@example.com")
        assert len(gone_memories) >= 3  # the note and the turn's two episodes
        assert await term_rows(app, gone_memories) == len(gone_memories)
        for secret in secrets:
            for tag in ("-gone", "-stay"):
                assert f"{secret}{tag}".encode() not in before, secret
        assert CARD_NAME not in before
        card = CARD.read_bytes()
        assert card[len(card) // 2 : len(card) // 2 + 64] not in before  # the file is sealed
        # The files read are the live ones: the account's email (not sealed) is there.
        assert b"leave@example.com" in before
        message_id, user_id, blob = await sealed_message(app, conversation_id)
        files_before = len(list((settings.data_dir / "files").rglob("*")))

        wrong = await leaving.request("DELETE", "/api/v1/me", json={"password": "not it at all"})
        assert wrong.status_code == 403
        assert (await leaving.get("/api/v1/me")).status_code == 200
        gone = await leaving.request("DELETE", "/api/v1/me", json={"password": PASSWORD})
        assert gone.status_code == 204
        assert (await leaving.get("/api/v1/me")).status_code == 401

    after = await raw_bytes(app, settings, request)
    assert await memory_ids(app, "leave@example.com") == []
    assert await term_rows(app, gone_memories) == 0  # the index went with the memories
    assert len(await memory_ids(app, "stay@example.com")) >= 3
    for secret in secrets:
        assert f"{secret}-gone".encode() not in after, secret
    assert len(list((settings.data_dir / "files").rglob("*"))) < files_before
    # Crypto-shredding: a copy of the sealed text (a backup, a page not yet overwritten)
    # no longer opens, even in a process that never had the key in memory.
    database = app.state.runtime.database
    fresh = Keyring(database.keyring.provider)
    async with database.session() as session:
        with pytest.raises(SealError, match="shredded"):
            await session.run_sync(
                lambda s: open_fields(
                    fresh,
                    *fresh.in_session(s),
                    table="messages",
                    row_id=message_id,
                    owner=user_id,
                    blob=blob,
                )
            )
        for table in (models.User, models.Character, models.Conversation, models.Message):
            assert await session.scalar(select(func.count()).select_from(table)) >= 1
        emails = list(await session.scalars(select(models.User.email)))
        assert (
            await session.scalar(
                select(func.count())
                .select_from(models.UserKey)
                .where(models.UserKey.user_id == user_id)
            )
            == 0
        )
    assert emails == ["stay@example.com"]
    # The other user still reads everything of theirs.
    kept = (await client.get(f"/api/v1/conversations/{kept_conversation}")).text
    assert f"{SECRET_MESSAGE}-stay" in kept
    assert f"{SECRET_REPLY}-stay" in kept
    persona = (await client.get("/api/v1/me/persona")).json()
    assert persona["description"] == f"{SECRET_PERSONA}-stay"
