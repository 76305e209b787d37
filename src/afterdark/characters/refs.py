"""How the account export names a character, and how an import finds it again.

A built-in character is named by its slug (the same on every instance), a user's own by its
id in the export (renumbered on import). Another user's public character cannot come back,
so it is left out.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.characters.models import Character
from afterdark.errors import InvalidInputError


async def export_refs(
    session: AsyncSession, user_id: int, ids: Collection[int]
) -> dict[int, dict[str, Any]]:
    """``{character id: {"slug": ...} or {"id": ...}}`` for the ones an import can find."""
    rows = await session.execute(
        select(Character.id, Character.slug, Character.owner_id).where(Character.id.in_(ids))
    )
    refs: dict[int, dict[str, Any]] = {}
    for character_id, slug, owner_id in rows:
        if owner_id is None:
            refs[character_id] = {"slug": slug}
        elif owner_id == user_id:
            refs[character_id] = {"id": character_id}
    return refs


async def resolve_ref(
    session: AsyncSession, reference: Any, characters: dict[int, int]
) -> int | None:
    """The character an export names here (``characters``: old own ids to new), or None."""
    if not isinstance(reference, dict):
        raise InvalidInputError("A character reference in the export is not an object.")
    if "slug" in reference:
        found: int | None = await session.scalar(
            select(Character.id).where(Character.slug == str(reference["slug"]))
        )
        return found
    old = reference.get("id")
    return characters.get(old) if isinstance(old, int) else None
