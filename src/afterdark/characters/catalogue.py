"""The built-in catalogue: original characters shipped in ``characters/catalogue``.

Each character is ``<slug>.json`` (the fields plus ``portrait``, the parameters its artwork
was drawn from) beside ``<slug>.png``, the portrait made by ``scripts/make-portraits``.
Seeding inserts new ones and refreshes existing ones in place, so ids stay stable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.characters.models import Character
from afterdark.characters.schemas import CharacterCreate
from afterdark.characters.service import check_fields


@dataclass(frozen=True)
class CatalogueEntry:
    slug: str
    fields: CharacterCreate
    portrait: dict[str, Any]


def folder() -> Traversable:
    return resources.files("afterdark.characters") / "catalogue"


def entries() -> list[CatalogueEntry]:
    """Every built-in character, by slug."""
    found = []
    for item in sorted(folder().iterdir(), key=lambda p: p.name):
        if item.name.endswith(".json"):
            data = json.loads(item.read_text(encoding="utf-8"))
            portrait = data.pop("portrait", {})
            found.append(
                CatalogueEntry(item.name.removesuffix(".json"), CharacterCreate(**data), portrait)
            )
    return found


def portrait_bytes(name: str) -> bytes | None:
    """A catalogue portrait by file name, or None."""
    if "/" in name or "\\" in name or not name.endswith(".png"):
        return None
    item = folder() / name
    return item.read_bytes() if item.is_file() else None


async def seed_catalogue(session: AsyncSession) -> int:
    """Insert or refresh the built-in characters; returns how many were written."""
    count = 0
    for entry in entries():
        fields = entry.fields.model_dump()
        check_fields(fields)
        character = await session.scalar(select(Character).where(Character.slug == entry.slug))
        if character is None:
            character = Character(slug=entry.slug, owner_id=None, version=1)
            session.add(character)
        for field, value in fields.items():
            if getattr(character, field, None) != value:
                setattr(character, field, value)
        png = f"{entry.slug}.png"
        character.avatar_path = png if (folder() / png).is_file() else None
        count += 1
    await session.flush()
    return count
