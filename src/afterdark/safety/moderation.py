"""Enforcing the hard limits, and the moderation log admins read.

What a user sends is screened before anything is stored: a breach is refused (403
``hard_limit``) and logged. What the model writes is screened while it streams
(chat/generation.py): a breach stops the reply and replaces its text with a notice. The log
keeps who, where, which limit and the rule hits (a few words), never the text itself.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.errors import PermissionDeniedError
from afterdark.safety.limits import Breach, HardLimits
from afterdark.safety.models import ModerationEvent

Source = Literal["prompt", "output", "character"]
WITHHELD = "[This reply was withheld: it broke the content rules that always apply here.]"


class HardLimitError(PermissionDeniedError):
    code = "hard_limit"


async def check(limits: HardLimits | None, text: str) -> Breach | None:
    """The breach in ``text``, if any. The rules take microseconds to a millisecond and run
    here; only a classifier still to be loaded sends the check to a worker thread."""
    if limits is None or not text.strip():
        return None
    if limits.classifier.ready or not limits.needs_classifier(text):
        return limits.check(text)
    return await asyncio.to_thread(limits.check, text)


def event(
    breach: Breach,
    *,
    user_id: int | None,
    conversation_id: int | None,
    source: Source,
    action: str,
) -> ModerationEvent:
    return ModerationEvent(
        user_id=user_id,
        conversation_id=conversation_id,
        source=source,
        limit=breach.limit,
        action=action,
        signals=breach.signals,
    )


async def screen_prompt(
    session: AsyncSession,
    limits: HardLimits | None,
    text: str,
    *,
    user_id: int,
    conversation_id: int | None,
) -> None:
    """Refuse and log what a user sends when it breaks a hard limit.

    Call it before changing anything in ``session``: the log entry is committed before the
    refusal is raised, so it survives the request's rollback.
    """
    breach = await check(limits, text)
    if breach is None:
        return
    session.add(
        event(
            breach,
            user_id=user_id,
            conversation_id=conversation_id,
            source="prompt",
            action="refused",
        )
    )
    await session.commit()
    raise HardLimitError(breach.message)


def character_text(fields: dict[str, Any]) -> str:
    """Every text a character would put into a prompt: fields, greetings, tags, lorebook."""
    parts: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for key in ("name", "content", "keys", "secondary_keys", "comment", "entries"):
                walk(value.get(key))

    for name, value in fields.items():
        if name not in ("age", "style", "rating", "character_version"):
            walk(value)
    return "\n".join(p for p in parts if p.strip())


async def screen_character(
    session: AsyncSession, limits: HardLimits | None, fields: dict[str, Any], *, user_id: int
) -> None:
    """Refuse and log a character whose text breaks a hard limit (before anything changes)."""
    breach = await check(limits, character_text(fields))
    if breach is None:
        return
    session.add(
        event(breach, user_id=user_id, conversation_id=None, source="character", action="refused")
    )
    await session.commit()
    raise HardLimitError(breach.message)


async def recent(session: AsyncSession, limit: int = 100) -> list[ModerationEvent]:
    """The newest log entries first."""
    rows = await session.scalars(
        select(ModerationEvent).order_by(ModerationEvent.id.desc()).limit(limit)
    )
    return list(rows)
