"""The schema migrates on an empty database, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import inspect, select

from afterdark.accounts import service as accounts_service
from afterdark.accounts.schemas import UserCreate
from afterdark.characters import catalogue
from afterdark.characters import service as characters_service
from afterdark.chat import service as chat_service
from afterdark.chat.models import Message
from afterdark.chat.schemas import ConversationCreate
from afterdark.store.engine import Database
from afterdark.store.migrate import upgrade
from afterdark.store.models import Base

pytestmark = pytest.mark.xdist_group("postgres")


async def test_upgrade_creates_every_table_and_is_idempotent(database_url: str) -> None:
    database = Database(database_url)
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
    database = Database(database_url)
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
