"""Memory request and response shapes, and how a stored memory becomes one."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.memory import service
from afterdark.memory.models import Memory

# The same values as models.KINDS, CATEGORIES and ORIGINS, spelled out for the OpenAPI document.
Kind = Literal["summary", "fact", "episode", "note"]
Category = Literal["user", "character", "shared", "plan", "preference", "other"]
Origin = Literal["chat", "extracted", "summarised", "user", "imported"]


class MemoryPublic(BaseModel):
    id: int
    character_id: int | None = Field(description="null: shared with every character")
    conversation_id: int | None
    kind: Kind
    category: Category
    origin: Origin
    pinned: bool
    importance: float
    shared: bool = Field(description="Used with every character (character_id is null).")
    superseded_by_id: int | None
    text: str
    sources: int = Field(description="How many messages it came from.")
    happened_at: datetime | None
    created_at: datetime
    updated_at: datetime


class MemoryCreate(BaseModel):
    """A note the user writes for a character to remember."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=service.MAX_TEXT)
    category: Category = "other"
    pinned: bool = False
    shared: bool = Field(default=False, description="Remember it with every character.")
    importance: float = Field(default=0.5, ge=0, le=1)


class MemoryUpdate(BaseModel):
    """Any subset of a memory's editable fields; what is left out stays as it is."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, min_length=1, max_length=service.MAX_TEXT)
    category: Category | None = None
    pinned: bool | None = None
    importance: float | None = Field(default=None, ge=0, le=1)
    shared: bool | None = None


class SourcePublic(BaseModel):
    message_id: int
    conversation_id: int
    role: str
    content: str
    created_at: datetime


class LorePublic(BaseModel):
    book: str = Field(description='"character" or "world:<id>"')
    entry: int | str
    name: str


class TracePublic(BaseModel):
    """What went into one reply: the memories (those not deleted since) and lorebook entries."""

    message_id: int
    conversation_id: int
    memories: list[MemoryPublic]
    deleted: int = Field(description="Memories that went in and have been deleted since.")
    lore: list[LorePublic]


class Deleted(BaseModel):
    deleted: int


def to_public(memory: Memory, sources: int = 0) -> MemoryPublic:
    return MemoryPublic(
        id=memory.id,
        character_id=memory.character_id,
        conversation_id=memory.conversation_id,
        kind=memory.kind,
        category=memory.category,
        origin=memory.origin,
        pinned=memory.pinned,
        importance=memory.importance,
        shared=memory.character_id is None,
        superseded_by_id=memory.superseded_by_id,
        text=memory.text,
        sources=sources,
        happened_at=memory.happened_at,
        created_at=memory.created_at,
        updated_at=memory.updated_at,
    )


async def publics(session: AsyncSession, memories: list[Memory]) -> list[MemoryPublic]:
    """Memories as the API shows them, each with its count of source messages."""
    counts = await service.source_counts(session, [m.id for m in memories])
    return [to_public(m, counts.get(m.id, 0)) for m in memories]


def source_public(source: service.SourceMessage) -> SourcePublic:
    return SourcePublic(
        message_id=source.message_id,
        conversation_id=source.conversation_id,
        role=source.role,
        content=source.content,
        created_at=source.created_at,
    )


def lore_public(item: dict[str, Any]) -> LorePublic:
    # Stored by the chat engine; read leniently so an odd entry never breaks the page.
    entry = item.get("entry")
    return LorePublic(
        book=str(item.get("book") or ""),
        entry=entry if isinstance(entry, int | str) and not isinstance(entry, bool) else "",
        name=str(item.get("name") or ""),
    )
