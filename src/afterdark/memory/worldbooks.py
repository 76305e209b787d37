"""Global world books: the user's own lorebooks, applied to every chat while enabled.

They come in as V3 lorebook JSON or SillyTavern world-info files (mapped losslessly both
ways by characters/cards) and go out as either. In a chat they stack with the character's
own book; the character's book comes first and its scan settings win.
"""

from __future__ import annotations

import copy
from pathlib import PurePath
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts.models import User
from afterdark.characters.books import check_book
from afterdark.characters.cards import (
    DEFAULT_LIMITS,
    as_book,
    book_to_sillytavern,
    dump_card,
    lorebook_v3,
    read_lorebook,
)
from afterdark.errors import InvalidInputError, NotFoundError
from afterdark.memory.models import WorldBook

Format = Literal["v3", "sillytavern"]
MAX_NAME = 120
_ROOT_SETTINGS = ("scan_depth", "token_budget", "recursive_scanning")


async def list_books(session: AsyncSession, user: User) -> list[WorldBook]:
    rows = await session.scalars(
        select(WorldBook).where(WorldBook.user_id == user.id).order_by(WorldBook.id)
    )
    return list(rows)


async def get_book(session: AsyncSession, user: User, book_id: int) -> WorldBook:
    book = await session.scalar(
        select(WorldBook).where(WorldBook.id == book_id, WorldBook.user_id == user.id)
    )
    if book is None:
        raise NotFoundError(f"World book {book_id} does not exist.")
    return book


def _name(value: str) -> str:
    name = value.strip()
    if not name:
        raise InvalidInputError("A world book needs a name.")
    if len(name) > MAX_NAME:
        raise InvalidInputError(f"A world book's name is at most {MAX_NAME} characters.")
    return name


async def import_book(
    session: AsyncSession, user: User, data: bytes, filename: str, *, name: str = ""
) -> WorldBook:
    """A new, enabled world book from a V3 lorebook or SillyTavern world-info file."""
    book = as_book(read_lorebook(data, DEFAULT_LIMITS))
    check_book(book)
    given = name or str(book.get("name") or "") or PurePath(filename).stem or "World book"
    row = WorldBook(user_id=user.id, name=_name(given[:MAX_NAME]), book=book, enabled=True)
    session.add(row)
    await session.flush()
    return row


async def update_book(
    session: AsyncSession,
    user: User,
    book_id: int,
    *,
    name: str | None = None,
    enabled: bool | None = None,
    book: dict[str, Any] | None = None,
) -> WorldBook:
    row = await get_book(session, user, book_id)
    if name is not None:
        row.name = _name(name)
    if enabled is not None:
        row.enabled = enabled
    if book is not None:
        check_book(book)
        row.book = copy.deepcopy(book)
    await session.flush()
    return row


async def delete_book(session: AsyncSession, user: User, book_id: int) -> None:
    await session.delete(await get_book(session, user, book_id))
    await session.flush()


def export_book(row: WorldBook, fmt: Format) -> tuple[str, bytes]:
    """The world book as a file: its name and bytes."""
    body = lorebook_v3(row.book) if fmt == "v3" else book_to_sillytavern(row.book)
    stem = "".join(c if c.isalnum() else "_" for c in row.name).strip("_")[:80] or "world"
    suffix = "lorebook" if fmt == "v3" else "world"
    return f"{stem}.{suffix}.json", dump_card(body).encode("utf-8")


async def enabled_books(session: AsyncSession, user_id: int) -> list[WorldBook]:
    rows = await session.scalars(
        select(WorldBook)
        .where(WorldBook.user_id == user_id, WorldBook.enabled.is_(True))
        .order_by(WorldBook.id)
    )
    return list(rows)


def combined(character_book: dict[str, Any] | None, worlds: list[WorldBook]) -> dict[str, Any]:
    """One book for the engine: the character's entries first, then each world book's.

    Entry ids are prefixed with their source, so timers never mix two books' entry 0. The
    character book's scan depth, budget and recursion win; a world book's apply when the
    character has no book of its own.
    """
    sources: list[tuple[str, dict[str, Any]]] = []
    if character_book:
        sources.append(("c", character_book))
    sources += [(f"w{w.id}", w.book) for w in worlds if w.book]
    merged: dict[str, Any] = {"entries": [], "extensions": {}}
    for prefix, book in sources:
        for key in _ROOT_SETTINGS:
            if key in book and key not in merged:
                merged[key] = book[key]
        entries = book.get("entries")
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, dict):
                merged["entries"].append({**entry, "id": f"{prefix}:{entry.get('id', index)}"})
    return merged
