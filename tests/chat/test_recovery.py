"""A reply left mid-stream by a crash is kept and marked interrupted at the next start."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from afterdark.chat.models import Generation, Message
from afterdark.llm.fake import FakeBackend
from afterdark.runtime import open_runtime
from tests.conftest import make_settings


@pytest.mark.parametrize("recover", [True, False])
async def test_startup_marks_streaming_replies_interrupted(tmp_path: Path, recover: bool) -> None:
    settings = make_settings(tmp_path, "http://127.0.0.1:9/v1")
    runtime = await open_runtime(settings, backend=FakeBackend())
    async with runtime.database.session() as session:
        from afterdark.accounts.models import User
        from afterdark.chat.models import Conversation
        from afterdark.kit.clock import utcnow

        user = User(
            email="c@example.com",
            password_hash="x",
            age_checked_at=utcnow(),
            age_check_method="test",
        )
        session.add(user)
        await session.flush()
        conversation = Conversation(user_id=user.id, character_id=1, sampler={})
        session.add(conversation)
        await session.flush()
        message = Message(
            conversation_id=conversation.id,
            user_id=user.id,
            role="assistant",
            content="Half a sen",
            status="streaming",
        )
        session.add(message)
        await session.flush()
        session.add(
            Generation(
                conversation_id=conversation.id,
                user_id=user.id,
                message_id=message.id,
                kind="reply",
            )
        )
        await session.commit()
    await runtime.database.dispose()  # the process dies without closing the generation

    # recover=False is how a CLI command opens the runtime beside a running server.
    restarted = await open_runtime(settings, backend=FakeBackend(), recover=recover)
    try:
        async with restarted.database.session() as session:
            saved = await session.scalar(select(Message).where(Message.id == message.id))
            assert saved is not None
            expected = "interrupted" if recover else "streaming"
            assert (saved.status, saved.content) == (expected, "Half a sen")
            generation = await session.scalar(select(Generation))
            assert generation is not None
            assert generation.status == expected
    finally:
        await restarted.aclose()
