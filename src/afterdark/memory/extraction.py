"""Fact extraction: after a turn, the chat model says what to remember as lasting facts.

The model sees the turn (the user's message and the reply) and the few known facts of the
(user, character) scope most related to it, each with its id, and answers with JSON::

    {"ops": [{"op": "add", "text": "...", "category": "user", "importance": 0.6},
             {"op": "update", "id": 12, "text": "..."},
             {"op": "delete", "id": 9}]}

Applying the operations:

- ``add`` makes a fact (origin "extracted") in the character's scope whose sources are the
  turn's messages; a fact already known word for word gains the turn as a source instead.
- ``update`` keeps the history: a new fact with the new text (same scope, so a fact the
  user shared with every character stays shared) takes the old one's sources plus the
  turn's, and the old fact's ``superseded_by_id`` points at it.
- ``delete`` retires a fact: ``superseded_by_id`` points at the fact itself, read as
  "superseded by nothing, no longer true". Retrieval skips it like any superseded fact and
  the memory page can show it as no longer true; the turn is added to its sources, as the
  reason. Deleting the memory for real is the user's call.

Only facts that were shown to the model can be updated or retired, and never one the user
wrote (origin "user") or pinned: those only gain the turn as a source. The answer is parsed
leniently (prose or code fences around the JSON are fine); what cannot be read is skipped
and logged, never raised.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts.models import User
from afterdark.chat.models import Message
from afterdark.llm.base import ChatMessage, LLMBackend, LLMError
from afterdark.memory import llmcall, retrieval, service
from afterdark.memory.context import MemoryContext
from afterdark.memory.episodes import Speakers
from afterdark.memory.models import Memory, MemorySource

log = logging.getLogger(__name__)

MAX_OPS = 8
"""Operations applied from one answer; the rest are dropped."""
MAX_FACT_CHARS = 300
"""A fact longer than this is not a fact: cut at a word."""
KNOWN_FACTS = 8
"""Known facts shown to the model with each turn."""
CANDIDATE_LIMIT = 300
"""Newest facts of a scope that are opened and ranked to pick the known facts."""
TURN_CHARS = 2000
"""Characters of each turn message put in the prompt (the end is cut)."""
MAX_TOKENS = 400
FACT_CATEGORIES = ("user", "character", "shared", "plan", "preference")

Op = Literal["add", "update", "delete"]

SYSTEM_PROMPT = """\
You keep the long-term memory of an ongoing story chat between {user} and {char}.
Read the latest exchange and decide what is worth remembering in later chats: lasting \
facts about {user} (their life, people, likes, plans), facts about {char} that the story \
has established, and what the two of them share. Skip small talk, passing actions and \
anything already known.

Answer with JSON only, in this shape:
{{"ops": [{{"op": "add", "text": "...", "category": "user", "importance": 0.5}}]}}

Operations:
- add: a new fact. "text" is one short sentence that names who it is about.
- update: {{"op": "update", "id": <id of a known fact>, "text": "<the corrected fact>"}} \
when the exchange changes a known fact.
- delete: {{"op": "delete", "id": <id of a known fact>}} when a known fact is no longer true.
"category" is one of: user, character, shared, plan, preference.
"importance" runs from 0 (trivia) to 1 (central to who they are).
If there is nothing new to remember, answer {{"ops": []}}."""

USER_PROMPT = """\
Known facts:
{facts}

Latest exchange:
{turn}"""


@dataclass(frozen=True)
class FactOp:
    """One operation the model asked for, checked and normalised."""

    op: Op
    id: int | None = None
    text: str = ""
    category: str | None = None
    importance: float | None = None


@dataclass
class ExtractionPlan:
    """What one extraction needs across its two transactions: the prompt, the facts it
    showed (the only ones it may change) and the turn's message ids."""

    user_id: int
    character_id: int
    conversation_id: int
    turn_ids: list[int]
    known_ids: list[int]
    messages: list[ChatMessage]


@dataclass
class ExtractionResult:
    added: list[int] = field(default_factory=list)
    superseded: dict[int, int] = field(default_factory=dict)  # old id -> new id
    retired: list[int] = field(default_factory=list)
    sourced: list[int] = field(default_factory=list)  # existing facts that gained the turn
    skipped: int = 0


# --- the prompt ----------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]{3,}")


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


async def current_facts(session: AsyncSession, user_id: int, character_id: int) -> list[Memory]:
    """The scope's newest current facts (at most ``CANDIDATE_LIMIT``), newest first."""
    return list(
        await session.scalars(
            select(Memory)
            .where(
                Memory.user_id == user_id,
                (Memory.character_id == character_id) | Memory.character_id.is_(None),
                Memory.kind == "fact",
                Memory.superseded_by_id.is_(None),
            )
            .order_by(Memory.id.desc())
            .limit(CANDIDATE_LIMIT)
        )
    )


async def known_facts(
    session: AsyncSession,
    context: MemoryContext,
    user_id: int,
    character_id: int,
    about: str,
    *,
    limit: int = KNOWN_FACTS,
) -> list[Memory]:
    """The scope's current facts most related to ``about``, oldest first: hybrid recall,
    topped up by word overlap and importance among the newest facts."""
    recalled = await retrieval.recall(
        session,
        context.keyring,
        await context.embedder(),
        user_id=user_id,
        character_id=character_id,
        query=about,
        k=limit * 4,  # episodes and summaries share the ranking; facts are what is wanted
    )
    chosen = {r.memory.id: r.memory for r in recalled if r.memory.kind == "fact"}
    if len(chosen) < limit:
        wanted = _words(about)

        def score(fact: Memory) -> tuple[int, float, int]:
            return (len(wanted & _words(fact.text)), fact.importance, fact.id)

        others = [
            f for f in await current_facts(session, user_id, character_id) if f.id not in chosen
        ]
        for fact in sorted(others, key=score, reverse=True)[: limit - len(chosen)]:
            chosen[fact.id] = fact
    return sorted(list(chosen.values())[:limit], key=lambda f: f.id)


def build_prompt(
    names: Speakers, turn: Sequence[Message], facts: Sequence[Memory]
) -> list[ChatMessage]:
    """The extraction prompt: instructions, then the known facts and the exchange."""
    known = "\n".join(f"[{f.id}] {_clip(f.text, MAX_FACT_CHARS)}" for f in facts) or "(none)"
    lines = "\n".join(f"{names.of(m)}: {_clip(m.content, TURN_CHARS)}" for m in turn)
    return [
        ChatMessage("system", SYSTEM_PROMPT.format(user=names.user, char=names.character)),
        ChatMessage("user", USER_PROMPT.format(facts=known, turn=lines)),
    ]


async def plan(
    session: AsyncSession,
    context: MemoryContext,
    user_id: int,
    character_id: int,
    conversation_id: int,
    turn: Sequence[Message],
    names: Speakers,
) -> ExtractionPlan:
    """Read what an extraction needs (in the caller's session; the model call comes later)."""
    about = "\n".join(_clip(m.content, TURN_CHARS) for m in turn)
    facts = await known_facts(session, context, user_id, character_id, about)
    return ExtractionPlan(
        user_id=user_id,
        character_id=character_id,
        conversation_id=conversation_id,
        turn_ids=[m.id for m in turn],
        known_ids=[f.id for f in facts],
        messages=build_prompt(names, turn, facts),
    )


# --- the answer ----------------------------------------------------------------------------

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)


def _json_values(answer: str) -> list[Any]:
    """Every top-level JSON object or array that can be read out of ``answer``, fenced
    ones first."""
    texts = [m.group(1) for m in _FENCE.finditer(answer)] + [answer]
    decoder = json.JSONDecoder()
    found: list[Any] = []
    for text in texts:
        position = 0
        while (start := _next_open(text, position)) >= 0:
            try:
                value, position = decoder.raw_decode(text, start)
            except ValueError:
                position = start + 1
                continue
            found.append(value)
    return found


def _next_open(text: str, position: int) -> int:
    starts = [i for i in (text.find("{", position), text.find("[", position)) if i >= 0]
    return min(starts) if starts else -1


def _op_list(value: Any) -> list[Any] | None:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        for key in ("ops", "operations", "facts", "memories"):
            if isinstance(value.get(key), list):
                return list(value[key])
        if "op" in value:
            return [value]
    return None


def _as_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("#[").rstrip("]").isdigit():
        return int(value.strip().lstrip("#[").rstrip("]"))
    return None


def _as_importance(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    if number != number:  # NaN
        return None
    if number > 1 and number <= 10:
        number /= 10  # a model that scores out of ten
    return min(max(number, 0.0), 1.0)


def _as_op(item: Any) -> FactOp | None:
    if not isinstance(item, dict):
        return None
    op = str(item.get("op") or item.get("action") or "").strip().lower()
    op = {"new": "add", "create": "add", "edit": "update", "remove": "delete"}.get(op, op)
    raw_text = item.get("text", item.get("fact", ""))
    text = _clip(raw_text, MAX_FACT_CHARS) if isinstance(raw_text, str) else ""
    category = str(item.get("category") or "").strip().lower() or None
    if category is not None and category not in FACT_CATEGORIES:
        category = None
    importance = _as_importance(item.get("importance"))
    memory_id = _as_id(item.get("id"))
    if not op and text and memory_id is None:
        op = "add"  # a bare list of facts
    if op == "add" and text:
        return FactOp("add", text=text, category=category, importance=importance)
    if op == "update" and text and memory_id is not None:
        return FactOp("update", memory_id, text, category, importance)
    if op == "delete" and memory_id is not None:
        return FactOp("delete", memory_id)
    return None


def parse_ops(answer: str) -> list[FactOp] | None:
    """The operations in the model's answer (at most ``MAX_OPS``); None when it held no
    readable list of operations at all."""
    for value in _json_values(answer):
        items = _op_list(value)
        if items is None or (items and not any(isinstance(i, dict) for i in items)):
            continue  # prose in brackets, not the answer
        ops = [op for op in (_as_op(item) for item in items) if op is not None]
        dropped = len(items) - len(ops)
        if dropped:
            log.info("fact extraction: %d unreadable operation(s) skipped", dropped)
        return ops[:MAX_OPS]
    return None


async def ask(backend: LLMBackend, extraction: ExtractionPlan) -> list[FactOp] | None:
    """Run the prompt; the operations, or None when the model failed or answered nonsense."""
    try:
        answer = await llmcall.complete(backend, extraction.messages, max_tokens=MAX_TOKENS)
    except (LLMError, TimeoutError) as exc:
        log.warning("fact extraction for message %s failed: %s", extraction.turn_ids[-1:], exc)
        return None
    ops = parse_ops(answer)
    if ops is None:
        # The text stays out of the log: it is the user's, and the log is not sealed.
        log.warning(
            "fact extraction: the model's answer (%d characters) held no operations; "
            "nothing stored",
            len(answer),
        )
    return ops


# --- applying ------------------------------------------------------------------------------


def _normal(text: str) -> str:
    return " ".join(text.lower().split()).rstrip(".!")


def _same(a: str, b: str) -> bool:
    return _normal(a) == _normal(b)


async def _sources_of(session: AsyncSession, memory: Memory) -> list[int]:
    return list(
        await session.scalars(
            select(MemorySource.message_id)
            .where(MemorySource.memory_id == memory.id)
            .order_by(MemorySource.message_id)
        )
    )


async def apply(
    session: AsyncSession,
    context: MemoryContext,
    user: User,
    extraction: ExtractionPlan,
    ops: Sequence[FactOp],
) -> ExtractionResult:
    """Carry out the operations in the caller's transaction (see the module's rules)."""
    result = ExtractionResult()
    # Only facts still current, still the user's and shown to the model may be touched.
    shown = {
        m.id: m
        for m in await session.scalars(
            select(Memory).where(
                Memory.id.in_(extraction.known_ids),
                Memory.user_id == user.id,
                Memory.kind == "fact",
                Memory.superseded_by_id.is_(None),
            )
        )
    }
    turn = await _live_turn(session, user.id, extraction.turn_ids)
    if not turn:
        return result  # the turn was deleted while the model thought
    known = {
        _normal(f.text): f
        for f in reversed(await current_facts(session, user.id, extraction.character_id))
    }
    for op in ops:
        if op.op == "add":
            await _add(session, context, user, extraction, op, turn, known, result)
            continue
        target = shown.get(op.id or 0)
        if target is None or target.superseded_by_id is not None:
            result.skipped += 1
            continue
        if (
            target.origin == "user"
            or target.pinned
            or (op.op == "update" and _same(target.text, op.text))
        ):
            await service.add_sources(session, user, target, turn)
            result.sourced.append(target.id)
        elif op.op == "update":
            new = await service.add_memory(
                session,
                context,
                user,
                character_id=target.character_id,
                text=op.text,
                category=op.category or target.category,
                kind="fact",
                origin="extracted",
                importance=op.importance if op.importance is not None else target.importance,
                conversation_id=extraction.conversation_id,
                source_ids=await _sources_of(session, target) + turn,
            )
            target.superseded_by_id = new.id
            result.superseded[target.id] = new.id
        else:
            await service.add_sources(session, user, target, turn)
            target.superseded_by_id = target.id  # retired: superseded by nothing
            result.retired.append(target.id)
    await session.flush()
    return result


async def _live_turn(session: AsyncSession, user_id: int, ids: list[int]) -> list[int]:
    found = set(
        await session.scalars(
            select(Message.id).where(Message.id.in_(ids), Message.user_id == user_id)
        )
    )
    return [i for i in ids if i in found]


async def _add(
    session: AsyncSession,
    context: MemoryContext,
    user: User,
    extraction: ExtractionPlan,
    op: FactOp,
    turn: list[int],
    known: dict[str, Memory],
    result: ExtractionResult,
) -> None:
    same = known.get(_normal(op.text))
    if same is not None:
        await service.add_sources(session, user, same, turn)
        result.sourced.append(same.id)
        return
    fact = await service.add_memory(
        session,
        context,
        user,
        character_id=extraction.character_id,
        text=op.text,
        category=op.category or "other",
        kind="fact",
        origin="extracted",
        importance=op.importance if op.importance is not None else 0.5,
        conversation_id=extraction.conversation_id,
        source_ids=turn,
    )
    known[_normal(fact.text)] = fact
    result.added.append(fact.id)
