"""A character's lorebook as a file: import a V3 lorebook or SillyTavern world info into
it, export it as either."""

from __future__ import annotations

import copy
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts.models import User
from afterdark.characters import service as characters_service
from afterdark.characters.cards import (
    DEFAULT_LIMITS,
    as_book,
    book_to_sillytavern,
    dump_card,
    lorebook_v3,
    read_lorebook,
)
from afterdark.characters.models import Character
from afterdark.errors import NotFoundError

LorebookFormat = Literal["v3", "sillytavern"]


async def import_lorebook(
    session: AsyncSession,
    user: User,
    character_id: int,
    data: bytes,
    filename: str,
    *,
    replace: bool = False,
) -> Character:
    """Add a lorebook file's entries to an own character's book (or replace the book)."""
    character = await characters_service.get_owned(session, user, character_id)
    incoming = as_book(read_lorebook(data, DEFAULT_LIMITS))
    if replace or not character.book:
        book = incoming
    else:
        book = copy.deepcopy(character.book)
        book.setdefault("entries", []).extend(incoming.get("entries", []))
    return await characters_service.save_fields(
        session, character, {"book": book}, f"Imported lorebook {filename}".strip()
    )


def export_lorebook(character: Character, fmt: LorebookFormat) -> tuple[str, bytes]:
    """The character's book as a standalone file: its name and bytes."""
    if not character.book or not character.book.get("entries"):
        raise NotFoundError(f"{character.name} has no lorebook entries to export.")
    book: dict[str, Any] = character.book
    body = lorebook_v3(book) if fmt == "v3" else book_to_sillytavern(book)
    stem = "".join(c if c.isalnum() else "_" for c in character.name).strip("_")[:80] or "lorebook"
    suffix = "lorebook" if fmt == "v3" else "world"
    return f"{stem}.{suffix}.json", dump_card(body).encode("utf-8")
