"""Version history: every save of a character keeps its fields; any version can be restored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.characters.cardmap import EDITABLE_FIELDS
from afterdark.characters.models import Character, CharacterVersion
from afterdark.errors import NotFoundError


def fields_of(character: Character) -> dict[str, Any]:
    """The character's editable fields as plain JSON values."""
    values = {field: getattr(character, field) for field in EDITABLE_FIELDS}
    values["alternate_greetings"] = list(values["alternate_greetings"] or [])
    values["tags"] = list(values["tags"] or [])
    return values


def record(session: AsyncSession, character: Character, note: str) -> CharacterVersion:
    """Save the character's current fields as its current version number."""
    version = CharacterVersion(
        character_id=character.id,
        owner_id=character.owner_id,
        number=character.version,
        note=note,
        fields=fields_of(character),
    )
    session.add(version)
    return version


async def history(session: AsyncSession, character: Character) -> list[CharacterVersion]:
    """Saved versions, newest first."""
    rows = await session.scalars(
        select(CharacterVersion)
        .where(CharacterVersion.character_id == character.id)
        .order_by(CharacterVersion.number.desc())
    )
    return list(rows)


async def fields_at(session: AsyncSession, character: Character, number: int) -> dict[str, Any]:
    version = await session.scalar(
        select(CharacterVersion).where(
            CharacterVersion.character_id == character.id, CharacterVersion.number == number
        )
    )
    if version is None:
        raise NotFoundError(f"{character.name} has no version {number}.")
    return dict(version.fields)
