"""What memory does when a reply is finished, and after messages are deleted.

``after_reply`` runs in the background (memory/jobs.py): it makes the turn's episodes,
asks the chat model for facts when ``extract_facts`` is on, and updates the rolling
summary when enough replies wait. No transaction stays open while the model thinks (a
SQLite writer would block the chat): each step reads and commits, calls the model, then
writes in a fresh session after checking that what it read still exists. Every step is
guarded on its own, so a failed extraction still lets the summary run, and nothing ever
raises into the caller.

``after_message_edited`` does the same after an edit: what the model drew from the old
text goes, and the turn is asked for facts again.

``after_messages_deleted`` keeps memory honest after deletions: memories derived only
from deleted messages go (``service.prune_orphans``), and so does a summary that lost
any message it summarised, since its text still tells what was deleted. The conversation
rebuilds its summary from the active path, chunk by chunk, on the next replies.
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts.models import User
from afterdark.characters import service as characters_service
from afterdark.chat import service as chat_service
from afterdark.chat.models import Conversation, Message
from afterdark.errors import AfterdarkError
from afterdark.kit.clock import as_utc
from afterdark.llm.base import LLMBackend
from afterdark.memory import episodes, extraction, service, summary
from afterdark.memory.context import MemoryContext
from afterdark.memory.episodes import Speakers
from afterdark.memory.jobs import JobRunner
from afterdark.memory.models import Memory, MemorySource
from afterdark.store.engine import Database

log = logging.getLogger(__name__)

SUMMARY_ROUNDS = 3
"""Summary updates one reply may run (a summary being rebuilt catches up this fast)."""


def schedule_after_reply(
    jobs: JobRunner,
    database: Database,
    context: MemoryContext,
    backend: LLMBackend,
    *,
    user_id: int,
    conversation_id: int,
    reply_id: int,
) -> None:
    """Queue ``after_reply`` for a finished reply (a second request for it while the first
    waits is merged into one)."""
    if not context.settings.enabled:
        return

    async def job() -> None:
        await after_reply(
            database,
            context,
            backend,
            user_id=user_id,
            conversation_id=conversation_id,
            reply_id=reply_id,
        )

    jobs.submit(job, key=f"after-reply:{reply_id}")


async def after_reply(
    database: Database,
    context: MemoryContext,
    backend: LLMBackend,
    *,
    user_id: int,
    conversation_id: int,
    reply_id: int,
) -> None:
    """Episodes, facts and the summary after a finished reply; logs failures, never raises."""
    if not context.settings.enabled:
        return
    try:
        turn = await _episodes(database, context, user_id, conversation_id, reply_id)
    except AfterdarkError as exc:
        # The character is gone or out of reach now (deleted, its content gate): expected.
        log.info("memory: reply %s skipped: %s", reply_id, exc)
        return
    except Exception:
        log.exception("memory: episodes of reply %s failed", reply_id)
        return
    if turn is None:
        return
    plan, names = turn
    if plan is not None:
        try:
            await _extract(database, context, backend, plan)
        except Exception:
            log.exception("memory: fact extraction for reply %s failed", reply_id)
    try:
        await _summarise(database, context, backend, user_id, conversation_id, names)
    except Exception:
        log.exception("memory: summary of conversation %s failed", conversation_id)


async def _episodes(
    database: Database,
    context: MemoryContext,
    user_id: int,
    conversation_id: int,
    reply_id: int,
) -> tuple[extraction.ExtractionPlan | None, Speakers] | None:
    """Write the turn's episodes; the extraction to run next (None: nothing to do at all)."""
    async with database.session() as session:
        reply = await session.scalar(
            select(Message).where(
                Message.id == reply_id,
                Message.user_id == user_id,
                Message.conversation_id == conversation_id,
            )
        )
        # Cheap way out for stopped, failed and withheld replies: one query, no model.
        if reply is None or reply.role != "assistant" or reply.status != "complete":
            return None
        user = await session.get(User, user_id)
        conversation = await session.get(Conversation, conversation_id)
        if user is None or conversation is None:
            return None
        # The character's own gate (ownership, adult content) applies to its memories too.
        character = await characters_service.get_character(session, user, conversation.character_id)
        names = await episodes.speakers(session, user, character)
        parent = await session.get(Message, reply.parent_id) if reply.parent_id else None
        turn = [parent, reply] if parent is not None and parent.role == "user" else [reply]
        await episodes.remember(session, context, user, character, conversation.id, turn, names)
        await episodes.forget_swipes(session, user_id, reply)
        plan = None
        readable = [m for m in turn if episodes.worth_remembering(m)]
        if context.settings.extract_facts and readable:
            plan = await extraction.plan(
                session, context, user_id, character.id, conversation.id, readable, names
            )
        await session.commit()
    return plan, names


async def _extract(
    database: Database,
    context: MemoryContext,
    backend: LLMBackend,
    plan: extraction.ExtractionPlan,
) -> None:
    ops = await extraction.ask(backend, plan)
    if not ops:
        return
    async with database.session() as session:
        user = await session.get(User, plan.user_id)
        if user is None:
            return
        result = await extraction.apply(session, context, user, plan, ops)
        await session.commit()
    log.info(
        "memory: facts from messages %s: %d added, %d updated, %d retired, %d skipped",
        plan.turn_ids,
        len(result.added),
        len(result.superseded),
        len(result.retired),
        result.skipped,
    )


async def _summarise(
    database: Database,
    context: MemoryContext,
    backend: LLMBackend,
    user_id: int,
    conversation_id: int,
    names: Speakers,
) -> None:
    for _ in range(SUMMARY_ROUNDS):
        async with database.session() as session:
            conversation = await session.get(Conversation, conversation_id)
            if conversation is None:
                return
            state = await chat_service.load_state(session, conversation)
            plan = await summary.plan_update(session, state, names, context.settings.summary_every)
            await session.rollback()  # read only: end the transaction before the model runs
        if plan is None:
            return
        text = await summary.ask(backend, plan)
        if text is None:
            return
        async with database.session() as session:
            user = await session.get(User, user_id)
            if user is None:
                return
            stored = await summary.apply(session, context, user, plan, text)
            await session.commit()
        if stored is None:
            return


async def after_messages_deleted(session: AsyncSession, user_id: int) -> int:
    """In the caller's transaction, after messages went: drop stale summaries and orphaned
    derived memories; how many memories were deleted."""
    stale = await stale_summaries(session, user_id)
    await service._delete_ids(session, user_id, stale)
    return len(stale) + await service.prune_orphans(session, user_id)


async def after_message_edited(session: AsyncSession, user_id: int, message_id: int) -> int:
    """In the caller's transaction, after a message's text changed: what the model drew
    from the old text goes (extracted facts, summaries that covered it); a note or fact the
    user wrote or rewrote stays. The turn is then asked for facts again (``rederive``) and
    the summary rebuilds on the next replies. How many memories were deleted."""
    ids = list(
        await session.scalars(
            select(Memory.id)
            .join(MemorySource, MemorySource.memory_id == Memory.id)
            .where(
                MemorySource.message_id == message_id,
                Memory.user_id == user_id,
                Memory.origin.in_(("extracted", "summarised")),
            )
            .distinct()
        )
    )
    await service._delete_ids(session, user_id, ids)
    return len(ids)


async def stale_summaries(session: AsyncSession, user_id: int) -> list[int]:
    """Model-written summaries that lost a summarised message.

    A summary's time is that of the newest message it summarised; deleting a message takes
    its subtree (every later message on its path) with it, so a summary that lost any
    message has lost its newest one, and its newest remaining source is older than it.
    """
    rows = await session.execute(
        select(Memory.id, Memory.happened_at, func.max(Message.created_at))
        .join(MemorySource, MemorySource.memory_id == Memory.id)
        .join(Message, Message.id == MemorySource.message_id)
        .where(
            Memory.user_id == user_id,
            Memory.kind == "summary",
            Memory.origin == "summarised",
        )
        .group_by(Memory.id, Memory.happened_at)
    )
    return [
        memory_id
        for memory_id, happened_at, newest in rows
        if happened_at is not None and newest is not None and as_utc(newest) < as_utc(happened_at)
    ]
