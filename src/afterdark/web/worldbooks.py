"""World book routes: the user's own lorebooks, for every chat or the chats they choose."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.characters.cards import DEFAULT_LIMITS
from afterdark.errors import InvalidInputError
from afterdark.memory import worldbooks
from afterdark.memory.models import WorldBook
from afterdark.web.deps import CurrentUser, Id, SessionDep
from afterdark.web.downloads import download

router = APIRouter(prefix="/api/v1/worldbooks", tags=["world books"])
_MIB = 2**20
UPLOAD_LIMITS = {r"/api/v1/worldbooks(/\d+)?": 32 * _MIB}


class WorldBookSummary(BaseModel):
    id: int
    name: str
    enabled: bool = Field(description="In every chat.")
    entries: int
    updated_at: datetime
    characters: list[int] = Field(description="Characters whose chats it joins.")
    conversations: list[int] = Field(description="Single chats it joins.")


class WorldBookPublic(WorldBookSummary):
    book: dict[str, Any]


class WorldBookUpdate(BaseModel):
    name: str | None = Field(default=None, max_length=worldbooks.MAX_NAME)
    enabled: bool | None = None
    book: dict[str, Any] | None = None


def _summary(row: WorldBook, links: tuple[list[int], list[int]]) -> WorldBookSummary:
    entries = row.book.get("entries")
    return WorldBookSummary(
        id=row.id,
        name=row.name,
        enabled=row.enabled,
        entries=len(entries) if isinstance(entries, list) else 0,
        updated_at=row.updated_at,
        characters=links[0],
        conversations=links[1],
    )


async def _public(session: AsyncSession, row: WorldBook) -> WorldBookPublic:
    links = (await worldbooks.links_of(session, [row.id]))[row.id]
    return WorldBookPublic(**_summary(row, links).model_dump(), book=row.book)


@router.get("")
async def list_world_books(user: CurrentUser, session: SessionDep) -> list[WorldBookSummary]:
    rows = await worldbooks.list_books(session, user)
    links = await worldbooks.links_of(session, [r.id for r in rows])
    return [_summary(r, links[r.id]) for r in rows]


@router.post("", status_code=201)
async def import_world_book(
    user: CurrentUser,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="V3 lorebook or SillyTavern world info")],
    name: Annotated[str, Form(max_length=worldbooks.MAX_NAME)] = "",
) -> WorldBookPublic:
    data = await file.read(DEFAULT_LIMITS.max_file_bytes + 1)
    if len(data) > DEFAULT_LIMITS.max_file_bytes:
        raise InvalidInputError(
            f"{file.filename}: larger than {DEFAULT_LIMITS.max_file_bytes // _MIB} MiB."
        )
    row = await worldbooks.import_book(session, user, data, file.filename or "", name=name)
    return await _public(session, row)


@router.get("/{book_id}")
async def get_world_book(book_id: Id, user: CurrentUser, session: SessionDep) -> WorldBookPublic:
    return await _public(session, await worldbooks.get_book(session, user, book_id))


@router.patch("/{book_id}")
async def update_world_book(
    book_id: Id, data: WorldBookUpdate, user: CurrentUser, session: SessionDep
) -> WorldBookPublic:
    row = await worldbooks.update_book(
        session, user, book_id, name=data.name, enabled=data.enabled, book=data.book
    )
    return await _public(session, row)


@router.put("/{book_id}/characters/{character_id}")
async def link_character(
    book_id: Id, character_id: Id, user: CurrentUser, session: SessionDep
) -> WorldBookPublic:
    """Choose the book for every chat with this character."""
    row = await worldbooks.link(session, user, book_id, "character", character_id)
    return await _public(session, row)


@router.delete("/{book_id}/characters/{character_id}")
async def unlink_character(
    book_id: Id, character_id: Id, user: CurrentUser, session: SessionDep
) -> WorldBookPublic:
    row = await worldbooks.unlink(session, user, book_id, "character", character_id)
    return await _public(session, row)


@router.put("/{book_id}/conversations/{conversation_id}")
async def link_conversation(
    book_id: Id, conversation_id: Id, user: CurrentUser, session: SessionDep
) -> WorldBookPublic:
    """Choose the book for this one chat."""
    row = await worldbooks.link(session, user, book_id, "conversation", conversation_id)
    return await _public(session, row)


@router.delete("/{book_id}/conversations/{conversation_id}")
async def unlink_conversation(
    book_id: Id, conversation_id: Id, user: CurrentUser, session: SessionDep
) -> WorldBookPublic:
    row = await worldbooks.unlink(session, user, book_id, "conversation", conversation_id)
    return await _public(session, row)


@router.delete("/{book_id}", status_code=204)
async def delete_world_book(book_id: Id, user: CurrentUser, session: SessionDep) -> None:
    await worldbooks.delete_book(session, user, book_id)


@router.get("/{book_id}/export")
async def export_world_book(
    book_id: Id,
    user: CurrentUser,
    session: SessionDep,
    format: Literal["v3", "sillytavern"] = "v3",
) -> Response:
    filename, data = worldbooks.export_book(
        await worldbooks.get_book(session, user, book_id), format
    )
    return download(filename, "application/json", data)
