"""Memory routes: what a character remembers, where it came from, and what went into a reply."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts.models import User
from afterdark.characters import service as characters_service
from afterdark.chat import service as chat_service
from afterdark.errors import NotFoundError, PermissionDeniedError
from afterdark.memory import service
from afterdark.memory.models import ReplyTrace
from afterdark.memory.schemas import (
    Deleted,
    Kind,
    MemoryCreate,
    MemoryPublic,
    MemoryUpdate,
    SourcePublic,
    TracePublic,
    lore_public,
    publics,
    source_public,
)
from afterdark.web.deps import CurrentUser, Id, RuntimeDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["memory"])


async def _one(session: AsyncSession, memory_id: int, user: User) -> MemoryPublic:
    [public] = await publics(session, [await service.get_memory(session, user, memory_id)])
    return public


async def _trace(
    session: AsyncSession, user: User, conversation_id: int, trace: ReplyTrace
) -> TracePublic:
    kept = []
    for memory_id in trace.memories:
        try:
            kept.append(await service.get_memory(session, user, memory_id))
        except NotFoundError:
            continue  # deleted since the reply: counted, not shown
    return TracePublic(
        message_id=trace.message_id,
        conversation_id=conversation_id,
        memories=await publics(session, kept),
        deleted=len(trace.memories) - len(kept),
        lore=[lore_public(item) for item in trace.lore if isinstance(item, dict)],
    )


@router.get("/characters/{character_id}/memories")
async def list_memories(
    character_id: Id,
    user: CurrentUser,
    session: SessionDep,
    kind: Kind | None = None,
    include_superseded: bool = False,
) -> list[MemoryPublic]:
    rows = await service.list_memories(
        session, user, character_id, kind=kind, include_superseded=include_superseded
    )
    return await publics(session, rows)


@router.post("/characters/{character_id}/memories", status_code=201)
async def add_memory(
    character_id: Id,
    data: MemoryCreate,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
) -> MemoryPublic:
    if data.shared:
        # Stored without a character, so the service would not look at this one: do it here.
        await characters_service.get_character(session, user, character_id)
    memory = await service.add_memory(
        session,
        runtime.memory,
        user,
        character_id=None if data.shared else character_id,
        text=data.text,
        category=data.category,
        pinned=data.pinned,
        importance=data.importance,
    )
    [public] = await publics(session, [memory])
    return public


@router.delete("/characters/{character_id}/memories")
async def forget_character(character_id: Id, user: CurrentUser, session: SessionDep) -> Deleted:
    try:
        await characters_service.get_character(session, user, character_id)
    except PermissionDeniedError:
        pass  # the explicit-content gate: deleting one's own data is always allowed
    return Deleted(deleted=await service.delete_all(session, user, character_id))


@router.get("/characters/{character_id}/memories/last-reply")
async def last_reply_trace(character_id: Id, user: CurrentUser, session: SessionDep) -> TracePublic:
    character = await characters_service.get_character(session, user, character_id)
    found = await service.last_trace(session, user, character_id)
    if found is None:
        raise NotFoundError(
            f"No reply from {character.name} has a record yet of what went into it."
        )
    message, trace = found
    return await _trace(session, user, message.conversation_id, trace)


@router.delete("/memories")
async def forget_everything(user: CurrentUser, session: SessionDep) -> Deleted:
    return Deleted(deleted=await service.delete_all(session, user))


@router.get("/memories/{memory_id}")
async def get_memory(memory_id: Id, user: CurrentUser, session: SessionDep) -> MemoryPublic:
    return await _one(session, memory_id, user)


@router.patch("/memories/{memory_id}")
async def edit_memory(
    memory_id: Id,
    data: MemoryUpdate,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
) -> MemoryPublic:
    await service.edit_memory(
        session,
        runtime.memory,
        user,
        memory_id,
        text=data.text,
        category=data.category,
        pinned=data.pinned,
        importance=data.importance,
        shared=data.shared,
    )
    return await _one(session, memory_id, user)


@router.delete("/memories/{memory_id}", status_code=204)
async def delete_memory(memory_id: Id, user: CurrentUser, session: SessionDep) -> None:
    await service.delete_memory(session, user, memory_id)


@router.get("/memories/{memory_id}/sources")
async def memory_sources(
    memory_id: Id, user: CurrentUser, session: SessionDep
) -> list[SourcePublic]:
    memory = await service.get_memory(session, user, memory_id)
    return [source_public(s) for s in await service.sources(session, user, memory)]


@router.get("/messages/{message_id}/trace")
async def message_trace(message_id: Id, user: CurrentUser, session: SessionDep) -> TracePublic:
    state, _ = await chat_service.get_message_state(session, user, message_id)
    trace = await service.trace_of(session, user, message_id)
    if trace is None:
        raise NotFoundError(
            f"Message {message_id} has no record of what went into it: only replies written "
            "with memory on have one."
        )
    return await _trace(session, user, state.conversation.id, trace)
