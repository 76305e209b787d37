"""The schema migrates on an empty database, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import inspect, select

from afterdark.accounts import service as accounts_service
from afterdark.accounts.models import Persona
from afterdark.accounts.schemas import UserCreate
from afterdark.characters import catalogue
from afterdark.characters import service as characters_service
from afterdark.characters.models import Character
from afterdark.chat import service as chat_service
from afterdark.chat.models import Message
from afterdark.chat.schemas import ConversationCreate
from afterdark.kit.clock import utcnow
from afterdark.store.engine import Database
from afterdark.store.migrate import upgrade
from afterdark.store.models import Base
from tests.conftest import fresh_keyring

pytestmark = pytest.mark.xdist_group("postgres")


async def test_upgrade_creates_every_table_and_is_idempotent(database_url: str) -> None:
    database = Database(database_url, keyring=fresh_keyring())
    try:
        await upgrade(database)
        await upgrade(database)
        async with database.engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert set(Base.metadata.tables) <= tables
        assert "alembic_version" in tables
    finally:
        await database.dispose()


async def test_conversation_round_trip(database_url: str) -> None:
    database = Database(database_url, keyring=fresh_keyring())
    try:
        await upgrade(database)
        async with database.session() as session:
            await catalogue.seed_catalogue(session)
            user = await accounts_service.create_user(
                session,
                UserCreate(email="Kim@Example.com", password="x" * 12, birthdate=date(1990, 5, 6)),
                min_age=18,
            )
            character = (await characters_service.list_characters(session, user))[0]
            conversation = await chat_service.create_conversation(
                session, user, ConversationCreate(character_id=character.id, scene="a quiet inn")
            )
            await session.commit()
        async with database.session() as session:
            state = await chat_service.get_state(session, user, conversation.id)
            assert state.conversation.scene == "a quiet inn"
            expected = character.greetings[0].replace("{{char}}", character.name)
            assert [m.content for m in state.path] == [expected]
            roots = await session.scalars(
                select(Message).where(Message.conversation_id == conversation.id)
            )
            assert len(list(roots)) == len(character.greetings)
            assert user.email == "kim@example.com"
    finally:
        await database.dispose()


# --- sealing rows that were written before sealing existed ----------------------------

BEFORE_SEALING = "38dfba19623d"


def _insert(connection: Any, table_name: str, /, **values: Any) -> int:
    """Insert into a table as it was at the older revision, filling required columns."""
    table = sa.Table(table_name, sa.MetaData(), autoload_with=connection)
    row = dict(values)
    for column in table.columns:
        if column.name in row or column.nullable or column.primary_key:
            continue
        if column.server_default is not None:
            continue
        python = column.type.python_type
        filler: Any = {str: "", int: 0, bool: False, datetime: utcnow(), list: [], dict: {}}
        row[column.name] = filler.get(python, "")
    result = connection.execute(sa.insert(table).values(row).returning(table.c.id))
    return int(result.scalar_one())


def _old_rows(connection: Any) -> dict[str, int]:
    user = _insert(connection, "users", email="old@example.com", password_hash="x")
    character = _insert(
        connection, "characters", owner_id=user, name="Old Friend", age=40, tags=["kept"]
    )
    conversation = _insert(
        connection, "conversations", user_id=user, character_id=character, scene="Moss-gate-61"
    )
    message = _insert(
        connection, "messages", conversation_id=conversation, role="user", content="Tin-owl-77"
    )
    _insert(connection, "personas", user_id=user, name="Oldie", description="Pale-fern-93")
    return {"user": user, "character": character, "message": message}


async def test_upgrade_seals_rows_written_before_sealing(database_url: str, tmp_path: Path) -> None:
    database = Database(database_url, keyring=fresh_keyring())
    try:
        await upgrade(database, BEFORE_SEALING)
        async with database.engine.begin() as connection:
            ids = await connection.run_sync(_old_rows)
        await upgrade(database)
        async with database.session() as session:
            message = await session.get_one(Message, ids["message"])
            character = await session.get_one(Character, ids["character"])
            persona = await session.scalar(select(Persona))
            assert message.content == "Tin-owl-77"
            assert message.user_id == ids["user"]
            assert (character.name, character.tags) == ("Old Friend", ["kept"])
            assert persona is not None
            assert persona.description == "Pale-fern-93"
        if database.is_sqlite:  # the plain text is gone from the file and its WAL
            async with database.engine.connect() as connection:
                await connection.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
            raw = b"".join(p.read_bytes() for p in tmp_path.glob("afterdark.db*"))
            for secret in (b"Tin-owl-77", b"Moss-gate-61", b"Pale-fern-93", b"Old Friend"):
                assert secret not in raw
    finally:
        await database.dispose()


async def test_upgrade_without_keys_refuses_to_seal(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        await upgrade(database, BEFORE_SEALING)
        async with database.engine.begin() as connection:
            await connection.run_sync(_old_rows)
        with pytest.raises(RuntimeError, match="key-encryption key"):
            await upgrade(database)
    finally:
        await database.dispose()
