"""Memories in the account export, and back into a fresh instance.

The export holds each memory's text, kind, scope, flags and times, the export ids of the
messages it came from, and what superseded it; never its vector (it is re-made on import
by whatever embedding model the new instance runs).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts.models import User
from afterdark.characters.models import Character
from afterdark.characters.refs import resolve_ref
from afterdark.errors import InvalidInputError
from afterdark.memory import index
from afterdark.memory.context import MemoryContext
from afterdark.memory.models import CATEGORIES, KINDS, ORIGINS, Memory, MemorySource
from afterdark.memory.service import MAX_TEXT


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def export_memories(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    """Every memory of the user, superseded ones too, with its provenance."""
    rows = list(
        await session.scalars(select(Memory).where(Memory.user_id == user.id).order_by(Memory.id))
    )
    sources: dict[int, list[int]] = {}
    for memory_id, message_id in await session.execute(
        select(MemorySource.memory_id, MemorySource.message_id)
        .join(Memory, Memory.id == MemorySource.memory_id)
        .where(Memory.user_id == user.id)
        .order_by(MemorySource.message_id)
    ):
        sources.setdefault(memory_id, []).append(message_id)
    characters = {
        c.id: c
        for c in await session.scalars(
            select(Character).where(
                Character.id.in_({m.character_id for m in rows if m.character_id})
            )
        )
    }
    out = []
    for m in rows:
        character = characters.get(m.character_id) if m.character_id else None
        out.append(
            {
                "id": m.id,
                "character": None
                if character is None
                else {"slug": character.slug}
                if character.owner_id is None
                else {"id": character.id},
                "conversation_id": m.conversation_id,
                "kind": m.kind,
                "category": m.category,
                "origin": m.origin,
                "pinned": m.pinned,
                "importance": m.importance,
                "superseded_by_id": m.superseded_by_id,
                "text": m.text,
                "happened_at": _when(m.happened_at),
                "created_at": _when(m.created_at),
                "updated_at": _when(m.updated_at),
                "sources": sources.get(m.id, []),
            }
        )
    return out


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


async def restore_memories(
    session: AsyncSession,
    context: MemoryContext | None,
    user: User,
    items: list[Any],
    *,
    characters: dict[int, int],
    conversations: dict[int, int],
    messages: dict[int, int],
) -> list[Memory]:
    """Recreate exported memories with renumbered ids; indexed when ``context`` is given."""
    made: dict[int, Memory] = {}
    pending: list[tuple[Memory, int | None]] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise InvalidInputError("A memory in the export has no text.")
        kind, category = item.get("kind"), item.get("category", "other")
        if kind not in KINDS or category not in CATEGORIES:
            raise InvalidInputError(f"A memory in the export has an unknown kind {kind!r}.")
        character_id = await _character(session, item.get("character"), characters)
        origin = item.get("origin") if item.get("origin") in ORIGINS else "imported"
        memory = Memory(
            user_id=user.id,
            character_id=character_id,
            conversation_id=conversations.get(item.get("conversation_id") or -1),
            kind=kind,
            category=category,
            origin=origin,
            pinned=bool(item.get("pinned")),
            importance=min(max(float(item.get("importance", 0.5)), 0.0), 1.0),
            happened_at=_time(item.get("happened_at")),
        )
        memory.text = item["text"].strip()[:MAX_TEXT] or "(empty)"
        if created := _time(item.get("created_at")):
            memory.created_at = created
        session.add(memory)
        await session.flush()
        made[int(item.get("id", -len(made) - 1))] = memory
        pending.append((memory, item.get("superseded_by_id")))
        for old in item.get("sources") or []:
            if isinstance(old, int) and old in messages:
                session.add(MemorySource(memory_id=memory.id, message_id=messages[old]))
    for memory, replaced_by in pending:
        if isinstance(replaced_by, int) and replaced_by in made:
            memory.superseded_by_id = made[replaced_by].id
    await session.flush()
    if context is not None and made:
        await index.index_memories(
            session, context.keyring, await context.embedder(), list(made.values())
        )
    return list(made.values())


async def _character(
    session: AsyncSession, reference: Any, characters: dict[int, int]
) -> int | None:
    if reference is None:
        return None
    found = await resolve_ref(session, reference, characters)
    if found is None:
        raise InvalidInputError("A memory in the export is about a character this instance lacks.")
    return int(found)
