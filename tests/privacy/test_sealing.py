"""Sealed rows on SQLite and PostgreSQL: bound to their row, re-sealed lazily after a key
rotation, never sealed under a key a rolled-back transaction made, kept out of SQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from afterdark.accounts.models import User
from afterdark.characters import catalogue
from afterdark.characters.models import Character
from afterdark.chat.models import Conversation, Message
from afterdark.privacy.cipher import SealError, key_version
from afterdark.privacy.keyring import Keyring
from afterdark.privacy.models import UserKey
from afterdark.store.engine import Database
from tests.privacy.test_keyring import make_user

pytestmark = pytest.mark.xdist_group("postgres")


async def add_chat(db: Database, user: User, *texts: str) -> list[int]:
    async with db.session() as session:
        character = Character(owner_id=user.id, name="Wren", age=30)
        session.add(character)
        await session.flush()
        conversation = Conversation(user_id=user.id, character_id=character.id, sampler={})
        session.add(conversation)
        await session.flush()
        messages = [
            Message(conversation_id=conversation.id, user_id=user.id, role="user", content=t)
            for t in texts
        ]
        session.add_all(messages)
        await session.commit()
        return [m.id for m in messages]


async def sealed_of(db: Database, message_id: int) -> bytes:
    async with db.session() as session:
        blob = await session.scalar(select(Message.sealed).where(Message.id == message_id))
    assert blob is not None
    return blob


def fresh(db: Database) -> Database:
    """The same database seen by a new process: no key cached."""
    assert db.keyring is not None
    return Database(db.url, keyring=Keyring(db.keyring.provider))


async def test_round_trip_and_a_new_process_opens_it(db: Database) -> None:
    user = await make_user(db, "ada@example.com")
    [first, second] = await add_chat(db, user, "Hello, Wren.", "Another line")
    assert b"Hello" not in await sealed_of(db, first)
    other = fresh(db)
    try:
        async with other.session() as session:
            assert (await session.get_one(Message, first)).content == "Hello, Wren."
            message = await session.get_one(Message, second)
            message.content = "Edited line"
            await session.commit()
        async with db.session() as session:
            assert (await session.get_one(Message, second)).content == "Edited line"
    finally:
        await other.dispose()


async def test_a_sealed_value_does_not_open_in_another_row(db: Database) -> None:
    user = await make_user(db, "ada@example.com")
    [first, second] = await add_chat(db, user, "mine", "other")
    blob = await sealed_of(db, first)
    async with db.session() as session:
        await session.execute(update(Message).where(Message.id == second).values(sealed=blob))
        await session.commit()
    async with db.session() as session:
        with pytest.raises(SealError, match="does not open"):
            await session.get(Message, second)


async def test_rotation_reseals_a_row_when_it_is_next_written(db: Database) -> None:
    assert db.keyring is not None
    user = await make_user(db, "ada@example.com")
    [kept, edited] = await add_chat(db, user, "left alone", "to be edited")
    async with db.session() as session:
        assert await db.keyring.rotate(session, user.id) == 2
        await session.commit()
    async with db.session() as session:
        message = await session.get_one(Message, edited)
        message.status = "complete"  # any write re-seals under the newest key
        await session.commit()
    assert key_version(await sealed_of(db, edited)) == 2
    assert key_version(await sealed_of(db, kept)) == 1
    async with db.session() as session:
        assert (await session.get_one(Message, kept)).content == "left alone"
        assert (await session.get_one(Message, edited)).content == "to be edited"


async def test_a_key_made_in_a_rolled_back_transaction_is_never_used(db: Database) -> None:
    user = await make_user(db, "ada@example.com")
    async with db.session() as session:
        await session.execute(UserKey.__table__.delete())  # a user with no key yet
        await session.commit()
    assert db.keyring is not None
    db.keyring.forget(user.id)
    async with db.session() as session:
        session.add(Character(owner_id=user.id, name="Never saved", age=30))
        await session.flush()  # makes key version 1, inside this transaction only
        await session.rollback()
    [message_id] = await add_chat(db, user, "after the rollback")
    other = fresh(db)
    try:
        async with other.session() as session:
            assert (await session.get_one(Message, message_id)).content == "after the rollback"
            assert await session.scalar(select(UserKey.version)) == 1
    finally:
        await other.dispose()


async def test_sealed_fields_stay_out_of_sql(db: Database) -> None:
    with pytest.raises(TypeError, match="sealed"):
        select(Character).where(Character.name == "Wren")


async def test_built_in_characters_need_no_keys(db: Database) -> None:
    keyless = Database(db.url)
    try:
        async with keyless.session() as session:
            await catalogue.seed_catalogue(session)
            await session.commit()
        async with keyless.session() as session:
            built_in = list(await session.scalars(select(Character)))
        assert built_in
        assert all(c.owner_id is None and c.name for c in built_in)
        user = await make_user(db, "ada@example.com")
        await add_chat(db, user, "private")
        async with keyless.session() as session:
            with pytest.raises(SealError, match="no keyring"):
                await session.scalar(select(Message))
    finally:
        await keyless.dispose()
