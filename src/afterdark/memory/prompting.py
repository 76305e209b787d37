"""What the character remembers for one reply: the summary, pinned memories, then the
memories retrieved for the newest message, within the memory token budget.

Lines already in the prompt's history are not repeated: an episode whose messages are all
on the path being answered is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.memory import retrieval
from afterdark.memory.context import MemoryContext
from afterdark.memory.models import Memory, MemorySource
from afterdark.memory.summary import summary_for_prompt


@dataclass
class MemoryPrompt:
    """The memory lines for the prompt and the memories they came from, in order."""

    texts: list[str] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)


def _scope(user_id: int, character_id: int) -> list[ColumnElement[bool]]:
    return [
        Memory.user_id == user_id,
        (Memory.character_id == character_id) | Memory.character_id.is_(None),
        Memory.superseded_by_id.is_(None),
    ]


def line_of(memory: Memory) -> str:
    """How a memory reads in the prompt."""
    if memory.kind == "summary":
        return f"The story so far: {memory.text}"
    if memory.kind == "episode" and memory.happened_at is not None:
        return f"Earlier ({memory.happened_at:%d %b %Y}) {memory.text}"
    return memory.text


async def memory_for_prompt(
    session: AsyncSession,
    context: MemoryContext,
    *,
    user_id: int,
    character_id: int,
    conversation_id: int,
    query: str,
    in_history: Collection[int],
    count_tokens: Callable[[str], int],
) -> MemoryPrompt:
    """The memory block of one reply's prompt (empty when memory is off or there is none)."""
    settings = context.settings
    if not settings.enabled or settings.token_budget <= 0:
        return MemoryPrompt()
    # Most chats with a new character have nothing yet: one cheap query, no model load.
    if (
        await session.scalar(select(Memory.id).where(*_scope(user_id, character_id)).limit(1))
        is None
    ):
        return MemoryPrompt()

    chosen: list[Memory] = []
    summary = await summary_for_prompt(session, user_id, character_id, conversation_id, in_history)
    if summary is not None:
        chosen.append(summary)
    pinned = await session.scalars(
        select(Memory)
        .where(*_scope(user_id, character_id), Memory.pinned.is_(True))
        .order_by(Memory.importance.desc(), Memory.id.desc())
    )
    chosen += [m for m in pinned if m.kind != "summary"]
    if settings.top_k and query.strip():
        recalled = await retrieval.recall(
            session,
            context.keyring,
            await context.embedder(),
            user_id=user_id,
            character_id=character_id,
            query=query,
            k=settings.top_k * 2,
        )
        shown = await _already_shown(session, [r.memory for r in recalled], in_history)
        taken = {m.id for m in chosen}
        extra = [
            r.memory
            for r in recalled
            if r.memory.id not in taken and r.memory.kind != "summary" and r.memory.id not in shown
        ]
        chosen += extra[: settings.top_k]

    prompt = MemoryPrompt()
    used = 0
    for memory in chosen:
        line = line_of(memory)
        cost = count_tokens(line) + 2
        if used + cost > settings.token_budget:
            continue  # a shorter one further down may still fit
        used += cost
        prompt.texts.append(line)
        prompt.ids.append(memory.id)
    return prompt


async def _already_shown(
    session: AsyncSession, memories: list[Memory], in_history: Collection[int]
) -> set[int]:
    """Episodes whose every source message is in the prompt's history already."""
    episodes = [m.id for m in memories if m.kind == "episode"]
    if not episodes or not in_history:
        return set()
    rows = await session.execute(
        select(MemorySource.memory_id, MemorySource.message_id).where(
            MemorySource.memory_id.in_(episodes)
        )
    )
    sources: dict[int, set[int]] = {}
    for memory_id, message_id in rows:
        sources.setdefault(memory_id, set()).add(message_id)
    history = set(in_history)
    return {m for m, ids in sources.items() if ids and ids <= history}
