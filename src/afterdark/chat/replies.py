"""Generation use cases: send, regenerate, continue, impersonate, stop.

Each call validates and records what it needs in the database, commits (the
generation task writes to those rows), then starts the generation in the background.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts import service as accounts_service
from afterdark.accounts.models import User
from afterdark.chat.generation import GenerationJob, Generations
from afterdark.chat.models import Conversation, Generation, Message
from afterdark.chat.prompt import (
    CharacterPrompt,
    HistoryMessage,
    PersonaPrompt,
    PromptInputs,
    assemble_prompt,
)
from afterdark.chat.service import (
    ConversationState,
    check_content,
    ensure_idle,
    get_message_state,
    get_state,
    select_path_to,
)
from afterdark.chat.streams import Event
from afterdark.errors import InvalidInputError, NotFoundError
from afterdark.kit.clock import utcnow
from afterdark.llm.base import GenerationRequest

Mode = Literal["reply", "continue", "impersonate"]


async def send(
    session: AsyncSession,
    generations: Generations,
    user: User,
    conversation_id: int,
    content: str,
    *,
    parent_id: int | None = None,
    max_chars: int,
) -> tuple[ConversationState, Message, Message, GenerationJob]:
    """Add the user's message and start the character's reply to it."""
    content = check_content(content, max_chars=max_chars)
    state = await get_state(session, user, conversation_id)
    ensure_idle(state)
    if parent_id is None:
        path = state.path
        parent = path[-1] if path else None
    else:
        parent = state.tree.nodes.get(parent_id)
        if parent is None:
            raise NotFoundError(f"Message {parent_id} is not in conversation {conversation_id}.")
    user_message = Message(
        conversation_id=state.conversation.id,
        parent_id=parent.id if parent else None,
        role="user",
        content=content,
    )
    await _add(session, state, user_message)
    reply = await _add(
        session,
        state,
        Message(
            conversation_id=state.conversation.id,
            parent_id=user_message.id,
            role="assistant",
            content="",
            status="streaming",
        ),
    )
    if state.conversation.title in ("", state.character.name) and not _has_user_turns(state):
        state.conversation.title = _title_from(content)
    job = await _start(session, generations, user, state, reply, "reply", mode="reply")
    return state, user_message, reply, job


async def regenerate(
    session: AsyncSession, generations: Generations, user: User, message_id: int
) -> tuple[ConversationState, Message, GenerationJob]:
    """A new swipe of a reply; on a user message, a (new) reply to it."""
    state, message = await get_message_state(session, user, message_id)
    ensure_idle(state)
    if message.role == "assistant" and message.parent_id is None:
        raise InvalidInputError("Greetings come from the character card; swipe to see the others.")
    answered = message.parent_id if message.role == "assistant" else message.id
    reply = await _add(
        session,
        state,
        Message(
            conversation_id=state.conversation.id,
            parent_id=answered,
            role="assistant",
            content="",
            status="streaming",
        ),
    )
    job = await _start(session, generations, user, state, reply, "regenerate", mode="reply")
    return state, reply, job


async def continue_reply(
    session: AsyncSession, generations: Generations, user: User, message_id: int
) -> tuple[ConversationState, Message, GenerationJob]:
    """Extend a reply where it stopped."""
    state, message = await get_message_state(session, user, message_id)
    ensure_idle(state)
    if message.role != "assistant":
        raise InvalidInputError("Only a character's reply can be continued.")
    select_path_to(state, message)
    base = message.content
    message.status, message.error = "streaming", None
    job = await _start(
        session, generations, user, state, message, "continue", mode="continue", base=base
    )
    return state, message, job


async def impersonate(
    session: AsyncSession, generations: Generations, user: User, conversation_id: int
) -> GenerationJob:
    """Draft the user's next line (not saved as a message)."""
    state = await get_state(session, user, conversation_id)
    ensure_idle(state)
    return await _start(session, generations, user, state, None, "impersonate", mode="impersonate")


async def stop_generation(
    session: AsyncSession, generations: Generations, user: User, generation_id: int
) -> bool:
    await owned_generation(session, user, generation_id)
    return generations.stop(generation_id)


async def stop_conversation(
    session: AsyncSession, generations: Generations, user: User, conversation_id: int
) -> bool:
    state = await get_state(session, user, conversation_id)
    if state.running_generation_id is None:
        return False
    return generations.stop(state.running_generation_id)


async def owned_generation(session: AsyncSession, user: User, generation_id: int) -> Generation:
    generation = await session.scalar(
        select(Generation)
        .join(Conversation, Conversation.id == Generation.conversation_id)
        .where(Generation.id == generation_id, Conversation.user_id == user.id)
    )
    if generation is None:
        raise NotFoundError(f"Generation {generation_id} does not exist.")
    return generation


async def _add(session: AsyncSession, state: ConversationState, message: Message) -> Message:
    session.add(message)
    await session.flush()
    state.tree.nodes[message.id] = message
    state.tree.children[message.parent_id].append(message)
    select_path_to(state, message)
    return message


def _has_user_turns(state: ConversationState) -> bool:
    return sum(1 for m in state.tree.nodes.values() if m.role == "user") > 1


def _title_from(content: str) -> str:
    line = " ".join(content.split())
    return line if len(line) <= 60 else line[:57].rstrip() + "..."


async def _start(
    session: AsyncSession,
    generations: Generations,
    user: User,
    state: ConversationState,
    reply: Message | None,
    kind: str,
    *,
    mode: Mode,
    base: str = "",
) -> GenerationJob:
    """Assemble the prompt, record the generation, commit, and start it in the background."""
    backend = generations.backend
    path = state.path
    if reply is not None:
        # The reply itself is not history, except when continuing it (it becomes the prefill).
        history_path = path[: path.index(reply) + (1 if mode == "continue" else 0)]
    else:
        history_path = path
    persona = await accounts_service.get_persona(session, user)
    character = state.character
    inputs = PromptInputs(
        character=CharacterPrompt(
            name=character.name,
            description=character.description,
            personality=character.personality,
            scenario=character.scenario,
            example_dialogue=character.example_dialogue,
            system_prompt=character.system_prompt,
            post_history_instructions=character.post_history_instructions,
        ),
        persona=PersonaPrompt(name=persona.name, description=persona.description),
        history=[
            HistoryMessage(id=m.id, role=m.role, content=m.content)  # type: ignore[arg-type]
            for m in history_path
        ],
        scene=state.conversation.scene,
        mode=mode,
    )
    sampler = state.sampler
    prompt = assemble_prompt(
        inputs,
        tokenizer=backend.tokenizer,
        context_size=backend.context_size,
        reserve_tokens=sampler.max_tokens,
        rng_seed=state.conversation.id,
    )
    generation = Generation(
        conversation_id=state.conversation.id,
        message_id=reply.id if reply else None,
        kind=kind,
        status="streaming",
    )
    session.add(generation)
    state.conversation.updated_at = utcnow()
    await session.flush()
    await session.commit()
    job = GenerationJob(
        generation_id=generation.id,
        conversation_id=state.conversation.id,
        message_id=reply.id if reply else None,
        kind=kind,
        request=GenerationRequest(
            messages=prompt.messages, sampler=sampler, prefill=prompt.prefill
        ),
        base_content=base,
    )
    generations.start(job)
    return job


async def generation_events(
    session: AsyncSession, generations: Generations, user: User, generation_id: int, after: int
) -> AsyncIterator[list[Event]]:
    """The events of a generation after event id ``after``; from the saved result once
    it is no longer held in memory."""
    generation = await owned_generation(session, user, generation_id)
    stream = generations.hub.get(generation_id)
    if stream is not None:
        return stream.subscribe(after)
    content = generation.output or ""
    status = generation.status
    if generation.message_id is not None:
        message = await session.get(Message, generation.message_id)
        content = message.content if message else ""
    if status == "streaming":  # not running in this process: its process ended mid-reply
        status = "interrupted"
    done = Event(
        max(after + 1, 0),
        "done",
        {
            "generation_id": generation.id,
            "message_id": generation.message_id,
            "status": status,
            "error": generation.error,
            "content": content,
            "usage": None,
        },
    )
    return _once([done])


async def _once(batch: list[Event]) -> AsyncIterator[list[Event]]:
    yield batch
