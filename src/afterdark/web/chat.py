"""Conversation, message and generation routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from afterdark.chat import replies, views
from afterdark.chat import service as chat_service
from afterdark.chat.presets import PRESETS
from afterdark.chat.schemas import (
    ConversationCreate,
    ConversationPublic,
    ConversationSummary,
    ConversationUpdate,
    GenerationStarted,
    MessageCreate,
    MessageEdit,
    MessagePublic,
    PresetPublic,
    Stopped,
    SwipeRequest,
    Turn,
)
from afterdark.memory.pipeline import schedule_after_reply
from afterdark.store.base import MAX_ID
from afterdark.web.deps import CurrentUser, GenerationAllowance, Id, RuntimeDep, SessionDep
from afterdark.web.sse import KEEPALIVE_SECONDS, last_event_id, sse_response

router = APIRouter(prefix="/api/v1", tags=["chat"])


@router.get("/conversations")
async def list_conversations(
    user: CurrentUser,
    session: SessionDep,
    character_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> list[ConversationSummary]:
    rows = await chat_service.list_conversations(session, user, character_id)
    return [views.conversation_summary(c, ch) for c, ch in rows]


@router.post("/conversations", status_code=201)
async def create_conversation(
    data: ConversationCreate, user: CurrentUser, session: SessionDep
) -> ConversationPublic:
    conversation = await chat_service.create_conversation(session, user, data)
    return views.conversation_public(await chat_service.load_state(session, conversation))


@router.get("/conversations/{conversation_id}")
async def get_conversation(
    conversation_id: Id, user: CurrentUser, session: SessionDep
) -> ConversationPublic:
    return views.conversation_public(await chat_service.get_state(session, user, conversation_id))


@router.patch("/conversations/{conversation_id}")
async def update_conversation(
    conversation_id: Id, data: ConversationUpdate, user: CurrentUser, session: SessionDep
) -> ConversationPublic:
    conversation = await chat_service.update_conversation(session, user, conversation_id, data)
    return views.conversation_public(await chat_service.load_state(session, conversation))


@router.delete("/conversations/{conversation_id}", status_code=204)
async def delete_conversation(conversation_id: Id, user: CurrentUser, session: SessionDep) -> None:
    await chat_service.delete_conversation(session, user, conversation_id)


@router.post(
    "/conversations/{conversation_id}/messages",
    status_code=201,
    response_model=Turn,
    responses={201: {"content": {"text/event-stream": {}}, "description": "SSE with ?stream=true"}},
    dependencies=[GenerationAllowance],
)
async def send_message(
    conversation_id: Id,
    data: MessageCreate,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    stream: bool = False,
) -> Turn | Response:
    """Send a message; the reply streams from /generations/{id}/events (or here, ?stream=true)."""
    state, user_message, reply, job = await replies.send(
        session,
        runtime.generations,
        user,
        conversation_id,
        data.content,
        parent_id=data.parent_id,
        max_chars=runtime.settings.chat.max_message_chars,
    )
    if stream or "text/event-stream" in request.headers.get("accept", ""):
        events = runtime.generations.hub.get(job.generation_id)
        assert events is not None
        return sse_response(events.subscribe(-1, keepalive=KEEPALIVE_SECONDS), status_code=201)
    return views.turn(state, reply, job.generation_id, user_message)


@router.post(
    "/conversations/{conversation_id}/impersonate",
    status_code=201,
    dependencies=[GenerationAllowance],
)
async def impersonate(
    conversation_id: Id, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> GenerationStarted:
    """Draft the user's next line; the draft arrives in the generation's done event."""
    job = await replies.impersonate(session, runtime.generations, user, conversation_id)
    return GenerationStarted(generation_id=job.generation_id)


@router.post("/conversations/{conversation_id}/stop")
async def stop_conversation(
    conversation_id: Id, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> Stopped:
    stopped = await replies.stop_conversation(session, runtime.generations, user, conversation_id)
    return Stopped(stopped=stopped)


@router.patch("/messages/{message_id}")
async def edit_message(
    message_id: Id, data: MessageEdit, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> MessagePublic:
    state, message, changed = await chat_service.edit_message(
        session,
        user,
        message_id,
        data.content,
        max_chars=runtime.settings.chat.max_message_chars,
        limits=runtime.limits,
        memory=runtime.memory,
    )
    reply = chat_service.turn_reply(state, message) if changed else None
    if reply is not None and runtime.memory.settings.enabled:
        await session.commit()  # the job reads in its own session: it must see the edit
        schedule_after_reply(
            runtime.jobs,
            runtime.database,
            runtime.memory,
            runtime.backend,
            user_id=user.id,
            conversation_id=state.conversation.id,
            reply_id=reply,
        )
    return views.message_public(message, state.tree)


@router.delete("/messages/{message_id}")
async def delete_message(
    message_id: Id, user: CurrentUser, session: SessionDep
) -> ConversationPublic:
    return views.conversation_public(await chat_service.delete_message(session, user, message_id))


@router.post(
    "/messages/{message_id}/regenerate", status_code=201, dependencies=[GenerationAllowance]
)
async def regenerate(
    message_id: Id, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> Turn:
    state, reply, job = await replies.regenerate(session, runtime.generations, user, message_id)
    return views.turn(state, reply, job.generation_id)


@router.post("/messages/{message_id}/continue", status_code=201, dependencies=[GenerationAllowance])
async def continue_reply(
    message_id: Id, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> Turn:
    state, reply, job = await replies.continue_reply(session, runtime.generations, user, message_id)
    return views.turn(state, reply, job.generation_id)


@router.post("/messages/{message_id}/swipe")
async def swipe(
    message_id: Id, data: SwipeRequest, user: CurrentUser, session: SessionDep
) -> ConversationPublic:
    state = await chat_service.swipe(session, user, message_id, data.direction)
    return views.conversation_public(state)


@router.post("/messages/{message_id}/branch", status_code=201)
async def branch(
    message_id: Id, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> ConversationPublic:
    conversation = await chat_service.branch(session, user, message_id, memory=runtime.memory)
    return views.conversation_public(await chat_service.load_state(session, conversation))


@router.get(
    "/generations/{generation_id}/events",
    response_class=Response,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def generation_events(
    generation_id: Id, request: Request, user: CurrentUser, runtime: RuntimeDep
) -> Response:
    """Server-Sent Events of one generation; resumes after Last-Event-ID."""
    # A short session of its own, closed before streaming: SessionDep would stay open
    # (holding a pooled connection) for the whole life of the response.
    async with runtime.database.session() as session:
        events = await replies.generation_events(
            session,
            runtime.generations,
            user,
            generation_id,
            last_event_id(request),
            keepalive=KEEPALIVE_SECONDS,
        )
    return sse_response(events)


@router.post("/generations/{generation_id}/stop")
async def stop_generation(
    generation_id: Id, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> Stopped:
    stopped = await replies.stop_generation(session, runtime.generations, user, generation_id)
    return Stopped(stopped=stopped)


@router.get("/presets")
async def presets() -> list[PresetPublic]:
    return [PresetPublic(name=n, label=label, sampler=s) for n, (label, s) in PRESETS.items()]
