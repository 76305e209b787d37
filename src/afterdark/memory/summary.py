"""The rolling summary of a conversation, kept up to date by the chat model every
``summary_every`` replies.

A summary tells the story of the active path from the greeting down to its newest source
message (its tip): its sources are every message it summarised and ``happened_at`` is the
tip's time. Each update asks the model to merge a summary with the messages after its tip (a
bounded chunk, oldest first, ending on a reply) and stores the result as a new checkpoint;
the one it grew from is marked superseded and kept, up to ``KEEP_CHECKPOINTS`` per chat.

The path can move: a swipe to another reply, an edit, a branch. In a tree the path to a
message is unique, so a checkpoint fits the current path exactly when its tip lies on it;
the prompt and the next update use the deepest checkpoint that fits, and a story told down
a swiped-away reply never reaches the prompt. A branch takes a copy of the checkpoint that
fits its copied path (``carry_into_branch``). A chat with no summary of its own is given
the newest summary of the user's other chats with the same character, so the story carries
over.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts.models import User
from afterdark.chat.models import Message
from afterdark.chat.service import ConversationState
from afterdark.kit.clock import as_utc
from afterdark.llm.base import ChatMessage, LLMBackend, LLMError
from afterdark.memory import llmcall, service
from afterdark.memory.context import MemoryContext
from afterdark.memory.episodes import Speakers, worth_remembering
from afterdark.memory.models import Memory, MemorySource

log = logging.getLogger(__name__)

MAX_WORDS = 200
MAX_SUMMARY_CHARS = 1600
"""The stored summary is cut (at a sentence, else a word) to this length."""
CHUNK_CHARS = 6000
"""Characters of new messages merged in one update (at least one reply is always taken)."""
MESSAGE_CHARS = 1200
"""Characters of each message put in the prompt (the end is cut)."""
MAX_TOKENS = 450
KEEP_CHECKPOINTS = 6
"""Checkpoints kept per chat: how far back a swipe or edit can go without a rebuild."""

SYSTEM_PROMPT = """\
You keep a running summary of an ongoing story chat between {user} and {char}.
Merge the summary so far with the new messages into one updated summary of at most \
{words} words. Write in the past tense and the third person. Keep names, places, \
promises, plans, open questions and how things stand between {user} and {char}; drop \
small talk and repetition. Answer with the summary text only."""

USER_PROMPT = """\
Summary so far:
{previous}

New messages:
{messages}"""

NO_SUMMARY = "(none yet: the chat has just begun)"


@dataclass
class SummaryPlan:
    """One update read from the database: the prompt and what the result will cover."""

    user_id: int
    character_id: int
    conversation_id: int
    summary_id: int | None
    chunk_ids: list[int]
    happened_at: datetime
    messages: list[ChatMessage]


async def checkpoints(
    session: AsyncSession, user_id: int, conversation_id: int
) -> list[tuple[int, int]]:
    """The conversation's summaries as (memory id, tip message id), deepest tip first."""
    rows = await session.execute(
        select(Memory.id, func.max(MemorySource.message_id))
        .join(MemorySource, MemorySource.memory_id == Memory.id)
        .where(
            Memory.user_id == user_id,
            Memory.conversation_id == conversation_id,
            Memory.kind == "summary",
        )
        .group_by(Memory.id)
    )
    # A reply is always made after its parent, so on one path the deepest has the highest id.
    return sorted(((m, t) for m, t in rows), key=lambda row: (row[1], row[0]), reverse=True)


async def summary_of(
    session: AsyncSession, user_id: int, conversation_id: int, path_ids: Collection[int]
) -> Memory | None:
    """The conversation's own summary that fits the path (``path_ids``, the messages from
    the greeting down): the checkpoint with the deepest tip on it."""
    for memory_id, tip in await checkpoints(session, user_id, conversation_id):
        if tip in path_ids:
            return await session.get(Memory, memory_id)
    return None


async def summary_for_prompt(
    session: AsyncSession,
    user_id: int,
    character_id: int,
    conversation_id: int,
    path_ids: Collection[int],
) -> Memory | None:
    """This conversation's summary that fits the path, else (a chat with none of its own)
    the newest of the user's other chats with the character (carried into a new chat)."""
    own = await summary_of(session, user_id, conversation_id, path_ids)
    if own is not None:
        return own
    has_own = select(Memory.id).where(
        Memory.user_id == user_id,
        Memory.conversation_id == conversation_id,
        Memory.kind == "summary",
    )
    if await session.scalar(has_own.limit(1)) is not None:
        return None  # the path moved above every checkpoint: the summary rebuilds
    has_source = select(MemorySource.memory_id).where(MemorySource.memory_id == Memory.id)
    carried: Memory | None = await session.scalar(
        select(Memory)
        .where(
            Memory.user_id == user_id,
            Memory.character_id == character_id,
            Memory.kind == "summary",
            Memory.superseded_by_id.is_(None),
            # A deleted chat's summary is on its way out (memory pruning): never carried.
            Memory.conversation_id.is_not(None),
            has_source.exists(),
        )
        .order_by(Memory.happened_at.desc(), Memory.id.desc())
        .limit(1)
    )
    return carried


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def pending_messages(state: ConversationState, covered: set[int]) -> list[Message]:
    """The active path after the deepest message the summary covers."""
    path = state.path
    deepest = max((i for i, m in enumerate(path) if m.id in covered), default=-1)
    return path[deepest + 1 :]


def _is_reply(message: Message) -> bool:
    # The greeting (a root) is part of the story but not a reply.
    return message.role == "assistant" and message.parent_id is not None


def replies_pending(messages: Sequence[Message]) -> int:
    """Finished replies among ``messages``: what makes a summary due."""
    return sum(1 for m in messages if _is_reply(m) and m.status == "complete")


def take_chunk(pending: Sequence[Message]) -> list[Message]:
    """The oldest pending messages that fit ``CHUNK_CHARS``, ending on a finished reply."""
    chunk: list[Message] = []
    end = 0
    size = 0
    for message in pending:
        size += min(len(message.content), MESSAGE_CHARS)
        if size > CHUNK_CHARS and end:
            break
        chunk.append(message)
        if _is_reply(message) and message.status == "complete":
            end = len(chunk)
    return chunk[:end]


async def _covered(session: AsyncSession, summary: Memory | None) -> set[int]:
    if summary is None:
        return set()
    return set(
        await session.scalars(
            select(MemorySource.message_id).where(MemorySource.memory_id == summary.id)
        )
    )


async def plan_update(
    session: AsyncSession, state: ConversationState, names: Speakers, every: int
) -> SummaryPlan | None:
    """The next update when ``every`` replies wait beyond the summary; else None."""
    conversation = state.conversation
    path_ids = {m.id for m in state.path}
    summary = await summary_of(session, conversation.user_id, conversation.id, path_ids)
    pending = pending_messages(state, await _covered(session, summary))
    if replies_pending(pending) < every:
        return None
    chunk = take_chunk(pending)
    if not chunk:
        return None
    lines = [
        f"{names.of(m)}: {_clip(m.content, MESSAGE_CHARS)}" for m in chunk if worth_remembering(m)
    ]
    previous = summary.text if summary is not None else NO_SUMMARY
    return SummaryPlan(
        user_id=conversation.user_id,
        character_id=conversation.character_id,
        conversation_id=conversation.id,
        summary_id=summary.id if summary is not None else None,
        chunk_ids=[m.id for m in chunk],
        happened_at=as_utc(chunk[-1].created_at),
        messages=[
            ChatMessage(
                "system",
                SYSTEM_PROMPT.format(user=names.user, char=names.character, words=MAX_WORDS),
            ),
            ChatMessage(
                "user",
                USER_PROMPT.format(previous=previous, messages="\n".join(lines) or "(nothing)"),
            ),
        ],
    )


_FENCE = re.compile(r"^```\w*\s*|\s*```$")
_LABEL = re.compile(r"^(?:\*\*)?(?:updated |new |running )?summary(?:\*\*)?\s*:(?:\*\*)?\s*", re.I)


def clean_summary(answer: str) -> str:
    """The model's answer as a stored summary: no fences or label, at most
    ``MAX_SUMMARY_CHARS`` (cut at a sentence end when one is near)."""
    text = _FENCE.sub("", answer.strip()).strip()
    text = _LABEL.sub("", text).strip().strip('"').strip()
    if len(text) <= MAX_SUMMARY_CHARS:
        return text
    cut = text[:MAX_SUMMARY_CHARS]
    sentence = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
    if sentence > MAX_SUMMARY_CHARS // 2:
        return cut[: sentence + 1]
    return cut.rsplit(" ", 1)[0] + " …"


async def ask(backend: LLMBackend, plan: SummaryPlan) -> str | None:
    """The merged summary from the model, or None when it failed or said nothing."""
    try:
        answer = await llmcall.complete(
            backend, plan.messages, max_tokens=MAX_TOKENS, temperature=0.3
        )
    except (LLMError, TimeoutError) as exc:
        log.warning("summary of conversation %s failed: %s", plan.conversation_id, exc)
        return None
    text = clean_summary(answer)
    if not text:
        log.warning("summary of conversation %s: the model answered nothing", plan.conversation_id)
        return None
    return text


async def apply(
    session: AsyncSession,
    context: MemoryContext,
    user: User,
    plan: SummaryPlan,
    text: str,
) -> Memory | None:
    """Store the merged summary as a new checkpoint in the caller's transaction; None when
    what it was built on changed meanwhile (messages or the base summary deleted, or another
    update already covered this chunk), so it is dropped."""
    live = set(
        await session.scalars(
            select(Message.id).where(Message.id.in_(plan.chunk_ids), Message.user_id == user.id)
        )
    )
    if live != set(plan.chunk_ids):
        return None
    tips = dict(await checkpoints(session, user.id, plan.conversation_id))
    if plan.summary_id is not None and plan.summary_id not in tips:
        return None
    if plan.chunk_ids[-1] in tips.values():
        return None
    base = await session.get(Memory, plan.summary_id) if plan.summary_id is not None else None
    covered = await _covered(session, base)
    # A summary the user corrected was the base of this merge, so the correction lives on
    # in the new text, which is the model's again.
    checkpoint = await service.add_memory(
        session,
        context,
        user,
        character_id=plan.character_id,
        text=text,
        category="shared",
        kind="summary",
        origin="summarised",
        importance=base.importance if base is not None else 0.7,
        pinned=base.pinned if base is not None else False,
        conversation_id=plan.conversation_id,
        source_ids=sorted(covered) + plan.chunk_ids,
        happened_at=plan.happened_at,
    )
    # The chat shows one summary: the newest; the others stay for a path that moves back.
    await session.execute(
        update(Memory)
        .where(Memory.id.in_(list(tips)), Memory.superseded_by_id.is_(None))
        .values(superseded_by_id=checkpoint.id)
    )
    oldest_first = sorted(tips)
    await service._delete_ids(
        session, user.id, oldest_first[: max(0, len(oldest_first) + 1 - KEEP_CHECKPOINTS)]
    )
    return checkpoint


async def carry_into_branch(
    session: AsyncSession,
    context: MemoryContext,
    user: User,
    source: ConversationState,
    branch: ConversationState,
) -> Memory | None:
    """A copy of the source chat's checkpoint that fits the branch's copied path (its
    messages are copies of the source path, in order), with the copies as its sources."""
    copied = dict(zip((m.id for m in source.path), (m.id for m in branch.path), strict=False))
    summary = await summary_of(session, user.id, source.conversation.id, copied)
    if summary is None:
        return None
    covered = await _covered(session, summary)
    return await service.add_memory(
        session,
        context,
        user,
        character_id=summary.character_id,
        text=summary.text,
        category=summary.category,
        kind="summary",
        origin=summary.origin,
        importance=summary.importance,
        pinned=summary.pinned,
        conversation_id=branch.conversation.id,
        source_ids=[copied[i] for i in sorted(covered) if i in copied],
        happened_at=summary.happened_at,
    )
