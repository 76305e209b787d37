"""Memory use cases: list, add, edit, pin, share, delete, and trace where a memory came from.

Every memory belongs to one user and either one character or (``character_id`` None) the
user's own memories that every character may use. Writes re-index the memory (blind terms
and vector, memory/index.py) in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts.models import User
from afterdark.characters import service as characters_service
from afterdark.chat.models import Conversation, Message
from afterdark.errors import InvalidInputError, NotFoundError
from afterdark.kit.clock import utcnow
from afterdark.memory import index
from afterdark.memory.context import MemoryContext
from afterdark.memory.models import CATEGORIES, KINDS, Memory, MemorySource, ReplyTrace

MAX_TEXT = 2000
# Memories that exist because of messages: when every source message is gone, so are they.
DERIVED_ORIGINS = ("chat", "extracted", "summarised")


@dataclass
class SourceMessage:
    """A message a memory came from, as the memory page shows it."""

    message_id: int
    conversation_id: int
    role: str
    content: str
    created_at: datetime


def check_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidInputError("A memory needs some text.")
    if len(text) > MAX_TEXT:
        raise InvalidInputError(f"A memory is at most {MAX_TEXT} characters.")
    return text


def check_category(category: str) -> str:
    if category not in CATEGORIES:
        raise InvalidInputError(f"category must be one of: {', '.join(CATEGORIES)}.")
    return category


async def _check_character(session: AsyncSession, user: User, character_id: int | None) -> None:
    if character_id is not None:  # the character's own gate (explicit content, ownership)
        await characters_service.get_character(session, user, character_id)


async def list_memories(
    session: AsyncSession,
    user: User,
    character_id: int | None,
    *,
    kind: str | None = None,
    include_shared: bool = True,
    include_superseded: bool = False,
) -> list[Memory]:
    """A character's memories (with the user's shared ones), pinned first, newest first."""
    await _check_character(session, user, character_id)
    if kind is not None and kind not in KINDS:
        raise InvalidInputError(f"kind must be one of: {', '.join(KINDS)}.")
    query = select(Memory).where(Memory.user_id == user.id)
    if character_id is None:
        query = query.where(Memory.character_id.is_(None))
    elif include_shared:
        query = query.where((Memory.character_id == character_id) | Memory.character_id.is_(None))
    else:
        query = query.where(Memory.character_id == character_id)
    if kind is not None:
        query = query.where(Memory.kind == kind)
    if not include_superseded:
        query = query.where(Memory.superseded_by_id.is_(None))
    query = query.order_by(Memory.pinned.desc(), Memory.id.desc())
    return list(await session.scalars(query))


async def get_memory(session: AsyncSession, user: User, memory_id: int) -> Memory:
    memory = await session.scalar(
        select(Memory).where(Memory.id == memory_id, Memory.user_id == user.id)
    )
    if memory is None:
        raise NotFoundError(f"Memory {memory_id} does not exist.")
    await _check_character(session, user, memory.character_id)
    return memory


async def add_memory(
    session: AsyncSession,
    context: MemoryContext,
    user: User,
    *,
    character_id: int | None,
    text: str,
    category: str = "other",
    kind: str = "note",
    origin: str = "user",
    pinned: bool = False,
    importance: float = 0.5,
    conversation_id: int | None = None,
    source_ids: list[int] | None = None,
    happened_at: datetime | None = None,
) -> Memory:
    """A new memory, indexed for retrieval; ``source_ids`` are the messages it came from."""
    await _check_character(session, user, character_id)
    memory = Memory(
        user_id=user.id,
        character_id=character_id,
        conversation_id=conversation_id,
        kind=kind,
        category=check_category(category),
        origin=origin,
        pinned=pinned,
        importance=min(max(importance, 0.0), 1.0),
        happened_at=happened_at or utcnow(),
    )
    memory.text = check_text(text)
    session.add(memory)
    await session.flush()
    await add_sources(session, user, memory, source_ids or [])
    await index.index_memories(session, context.keyring, await context.embedder(), [memory])
    return memory


async def add_sources(
    session: AsyncSession, user: User, memory: Memory, message_ids: list[int]
) -> None:
    """Record messages (the user's own) as where ``memory`` came from."""
    if not message_ids:
        return
    owned = set(
        await session.scalars(
            select(Message.id).where(Message.id.in_(message_ids), Message.user_id == user.id)
        )
    )
    existing = set(
        await session.scalars(
            select(MemorySource.message_id).where(MemorySource.memory_id == memory.id)
        )
    )
    for message_id in dict.fromkeys(message_ids):
        if message_id in owned and message_id not in existing:
            session.add(MemorySource(memory_id=memory.id, message_id=message_id))
    await session.flush()


async def edit_memory(
    session: AsyncSession,
    context: MemoryContext,
    user: User,
    memory_id: int,
    *,
    text: str | None = None,
    category: str | None = None,
    pinned: bool | None = None,
    importance: float | None = None,
    shared: bool | None = None,
) -> Memory:
    """Change a memory; ``shared`` moves it between its character and every character."""
    memory = await get_memory(session, user, memory_id)
    reindex = False
    if text is not None:
        new = check_text(text)
        reindex = new != memory.text
        memory.text = new
    if category is not None:
        memory.category = check_category(category)
    if pinned is not None:
        memory.pinned = pinned
    if importance is not None:
        memory.importance = min(max(importance, 0.0), 1.0)
    if shared is not None and shared != (memory.character_id is None):
        if shared:
            memory.character_id = None
        else:
            character_id = await _scope_for_unshare(session, memory)
            memory.character_id = character_id
        reindex = True
    if text is not None and memory.origin != "user":
        memory.origin = "user"  # the user's own words now: kept when its sources go
    memory.updated_at = utcnow()
    await session.flush()
    if reindex:
        await index.index_memories(session, context.keyring, await context.embedder(), [memory])
    return memory


async def _scope_for_unshare(session: AsyncSession, memory: Memory) -> int:
    character_id = await session.scalar(
        select(Conversation.character_id).where(Conversation.id == memory.conversation_id)
    )
    if character_id is None:
        raise InvalidInputError(
            "This memory was not made in a chat with one character, so it stays shared."
        )
    return int(character_id)


async def delete_memory(session: AsyncSession, user: User, memory_id: int) -> None:
    # No content gate: a user can always delete their own data.
    memory = await session.scalar(
        select(Memory).where(Memory.id == memory_id, Memory.user_id == user.id)
    )
    if memory is None:
        raise NotFoundError(f"Memory {memory_id} does not exist.")
    await _delete_ids(session, user.id, [memory.id])


async def delete_all(session: AsyncSession, user: User, character_id: int | None = None) -> int:
    """Delete every memory of the user, or every one made with one character; how many."""
    query = select(Memory.id).where(Memory.user_id == user.id)
    if character_id is not None:
        query = query.where(Memory.character_id == character_id)
    ids = list(await session.scalars(query))
    await _delete_ids(session, user.id, ids)
    return len(ids)


async def _delete_ids(session: AsyncSession, user_id: int, ids: list[int]) -> None:
    if not ids:
        return
    await index.unindex(session, user_id, ids)
    # Chunks keep each statement under the databases' bound-parameter limits. These are ORM
    # statements: memories loaded in this session are updated or dropped with the rows.
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        # Facts that a deleted fact had replaced come back into use.
        await session.execute(
            update(Memory).where(Memory.superseded_by_id.in_(chunk)).values(superseded_by_id=None)
        )
        await session.execute(delete(Memory).where(Memory.id.in_(chunk)))
    await session.flush()


async def prune_orphans(session: AsyncSession, user_id: int) -> int:
    """After messages went: delete memories derived from messages that have none left."""
    ids = list(
        await session.scalars(
            select(Memory.id).where(
                Memory.user_id == user_id,
                Memory.origin.in_(DERIVED_ORIGINS),
                ~select(MemorySource.memory_id).where(MemorySource.memory_id == Memory.id).exists(),
            )
        )
    )
    await _delete_ids(session, user_id, ids)
    return len(ids)


async def sources(session: AsyncSession, user: User, memory: Memory) -> list[SourceMessage]:
    """The messages a memory came from, oldest first (the user's own only)."""
    rows = await session.scalars(
        select(Message)
        .join(MemorySource, MemorySource.message_id == Message.id)
        .where(MemorySource.memory_id == memory.id, Message.user_id == user.id)
        .order_by(Message.id)
    )
    return [SourceMessage(m.id, m.conversation_id, m.role, m.content, m.created_at) for m in rows]


async def source_counts(session: AsyncSession, memory_ids: list[int]) -> dict[int, int]:
    """How many source messages each memory has."""
    if not memory_ids:
        return {}
    rows = await session.execute(
        select(MemorySource.memory_id, func.count())
        .where(MemorySource.memory_id.in_(memory_ids))
        .group_by(MemorySource.memory_id)
    )
    return {memory_id: count for memory_id, count in rows}


async def trace_of(session: AsyncSession, user: User, message_id: int) -> ReplyTrace | None:
    """What went into a reply's prompt, if it was recorded."""
    trace: ReplyTrace | None = await session.scalar(
        select(ReplyTrace).where(ReplyTrace.message_id == message_id, ReplyTrace.user_id == user.id)
    )
    return trace


async def last_trace(
    session: AsyncSession, user: User, character_id: int
) -> tuple[Message, ReplyTrace] | None:
    """The newest reply with the character that has a trace, and the trace."""
    row = (
        await session.execute(
            select(Message, ReplyTrace)
            .join(ReplyTrace, ReplyTrace.message_id == Message.id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(ReplyTrace.user_id == user.id, Conversation.character_id == character_id)
            .order_by(Message.id.desc())
            .limit(1)
        )
    ).first()
    return (row[0], row[1]) if row is not None else None
