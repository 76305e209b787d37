"""World books: the user's own lorebooks, for every chat or for the chats they choose.

A book joins every chat while ``enabled``; otherwise it joins the chats its links name: all
chats with a linked character, or one linked chat (SillyTavern's global, character and chat
lore). They come in as V3 lorebook JSON or SillyTavern world-info files (mapped losslessly both
ways by characters/cards) and go out as either. In a chat they stack with the character's
own book; the character's book comes first and its scan settings win.
"""

from __future__ import annotations

import copy
from pathlib import PurePath
from typing import Any, Literal

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts.models import User
from afterdark.characters import service as characters_service
from afterdark.characters.books import check_book
from afterdark.characters.cards import (
    DEFAULT_LIMITS,
    as_book,
    book_to_sillytavern,
    dump_card,
    lorebook_v3,
    read_lorebook,
)
from afterdark.chat.models import Conversation
from afterdark.errors import InvalidInputError, NotFoundError
from afterdark.memory.models import WorldBook, WorldBookLink

Format = Literal["v3", "sillytavern"]
Target = Literal["character", "conversation"]
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


async def books_for_chat(
    session: AsyncSession, user_id: int, character_id: int, conversation_id: int
) -> list[WorldBook]:
    """The user's books that join this chat: on for every chat, or linked to its character
    or to the chat itself."""
    linked = select(WorldBookLink.book_id).where(
        or_(
            WorldBookLink.character_id == character_id,
            WorldBookLink.conversation_id == conversation_id,
        )
    )
    rows = await session.scalars(
        select(WorldBook)
        .where(
            WorldBook.user_id == user_id,
            or_(WorldBook.enabled.is_(True), WorldBook.id.in_(linked)),
        )
        .order_by(WorldBook.id)
    )
    return list(rows)


async def links_of(
    session: AsyncSession, book_ids: list[int]
) -> dict[int, tuple[list[int], list[int]]]:
    """Each book's linked character ids and conversation ids."""
    found: dict[int, tuple[list[int], list[int]]] = {i: ([], []) for i in book_ids}
    if not book_ids:
        return found
    rows = await session.execute(
        select(WorldBookLink.book_id, WorldBookLink.character_id, WorldBookLink.conversation_id)
        .where(WorldBookLink.book_id.in_(book_ids))
        .order_by(WorldBookLink.id)
    )
    for book_id, character_id, conversation_id in rows:
        characters, conversations = found[book_id]
        if character_id is not None:
            characters.append(character_id)
        elif conversation_id is not None:
            conversations.append(conversation_id)
    return found


async def _target(session: AsyncSession, user: User, target: Target, target_id: int) -> None:
    """NotFoundError unless the user may use this character or owns this chat."""
    if target == "character":
        await characters_service.get_character(session, user, target_id)
        return
    owner = await session.scalar(select(Conversation.user_id).where(Conversation.id == target_id))
    if owner != user.id:
        raise NotFoundError(f"Conversation {target_id} does not exist.")


def _link_column(target: Target) -> Any:
    return WorldBookLink.character_id if target == "character" else WorldBookLink.conversation_id


async def link(
    session: AsyncSession, user: User, book_id: int, target: Target, target_id: int
) -> WorldBook:
    """Choose the book for a character's chats or for one chat (again is a no-op)."""
    row = await get_book(session, user, book_id)
    await _target(session, user, target, target_id)
    column = _link_column(target)
    exists = await session.scalar(
        select(WorldBookLink.id).where(WorldBookLink.book_id == row.id, column == target_id)
    )
    if exists is None:
        session.add(WorldBookLink(book_id=row.id, **{f"{target}_id": target_id}))
        await session.flush()
    return row


async def unlink(
    session: AsyncSession, user: User, book_id: int, target: Target, target_id: int
) -> WorldBook:
    """Take the book out of a character's chats or one chat (when not linked, a no-op)."""
    row = await get_book(session, user, book_id)
    await session.execute(
        delete(WorldBookLink).where(
            WorldBookLink.book_id == row.id, _link_column(target) == target_id
        )
    )
    await session.flush()
    return row


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
