"""The reply writer saves in batches and retries a failed save instead of losing it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from afterdark.accounts.models import User
from afterdark.characters.models import Character
from afterdark.chat.models import Conversation, Generation, Message
from afterdark.chat.writer import FinalState, ReplyBuffer, ReplyWriter
from afterdark.kit.clock import utcnow
from afterdark.store.engine import Database
from afterdark.store.migrate import upgrade
from tests.conftest import fresh_keyring


@pytest.fixture
async def database(tmp_path: Path) -> Any:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}", keyring=fresh_keyring())
    await upgrade(db)
    yield db
    await db.dispose()


async def _reply(db: Database) -> tuple[int, int, int]:
    async with db.session() as session:
        user = User(
            email="w@e.co", password_hash="x", age_checked_at=utcnow(), age_check_method="t"
        )
        session.add(user)
        await session.flush()
        character = Character(name="C", age=30)
        session.add(character)
        await session.flush()
        conversation = Conversation(user_id=user.id, character_id=character.id, sampler={})
        session.add(conversation)
        await session.flush()
        message = Message(
            conversation_id=conversation.id,
            user_id=user.id,
            role="assistant",
            status="streaming",
        )
        session.add(message)
        await session.flush()
        generation = Generation(
            conversation_id=conversation.id, user_id=user.id, message_id=message.id, kind="reply"
        )
        session.add(generation)
        await session.commit()
        return user.id, message.id, generation.id


async def test_partial_text_then_final_state(database: Database) -> None:
    user_id, message_id, generation_id = await _reply(database)
    writer = ReplyWriter(database, interval=10)
    buffer = ReplyBuffer(user_id, "Once")
    buffer.parts += [" upon", " a"]
    writer.touch(message_id, buffer)
    await writer._write_pending()
    async with database.session() as session:
        assert (await session.get_one(Message, message_id)).content == "Once upon a"
    buffer.parts.append(" time")
    await writer.finish(FinalState(generation_id, user_id, message_id, buffer.text(), "complete"))
    async with database.session() as session:
        saved = await session.get_one(Message, message_id)
        assert (saved.content, saved.status) == ("Once upon a time", "complete")
        generation = await session.scalar(select(Generation))
        assert generation is not None
        assert generation.status == "complete"
        assert generation.finished_at is not None


async def test_failed_final_save_is_retried(database: Database) -> None:
    user_id, message_id, generation_id = await _reply(database)
    writer = ReplyWriter(database, interval=0.01)
    real_write = writer._write
    failures = 2

    async def flaky(texts: Any, finals: Any) -> None:
        nonlocal failures
        if failures:
            failures -= 1
            raise RuntimeError("database is locked")
        await real_write(texts, finals)

    writer._write = flaky  # type: ignore[method-assign]
    writer.start()
    try:
        await writer.finish(FinalState(generation_id, user_id, message_id, "Kept.", "complete"))
    finally:
        await writer.aclose()
    assert failures == 0
    async with database.session() as session:
        saved = await session.get_one(Message, message_id)
        assert (saved.content, saved.status) == ("Kept.", "complete")
