"""Generation use cases: send, regenerate, continue, impersonate, stop.

Each call validates and records what it needs in the database, commits (the
generation task writes to those rows), then starts the generation in the background.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts import service as accounts_service
from afterdark.accounts.models import User
from afterdark.characters.service import character_prompt
from afterdark.chat.generation import GenerationJob, Generations, Prefetch, PromptTrace
from afterdark.chat.models import Conversation, Generation, Message
from afterdark.chat.prompt import (
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
from afterdark.memory import worldbooks
from afterdark.memory.lorebook import LoreResult, ScanInput, Timers, activate
from afterdark.memory.models import ReplyTrace, WorldBook
from afterdark.memory.prompting import MemoryPrompt, memory_for_prompt
from afterdark.safety import content, moderation

Mode = Literal["reply", "continue", "impersonate"]
log = logging.getLogger(__name__)


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
    await moderation.screen_prompt(
        session, generations.limits, content, user_id=user.id, conversation_id=conversation_id
    )
    if parent_id is None:
        path = state.path
        parent = path[-1] if path else None
    else:
        parent = state.tree.nodes.get(parent_id)
        if parent is None:
            raise NotFoundError(f"Message {parent_id} is not in conversation {conversation_id}.")
    history = _history(state.tree.path_to(parent) if parent else [])
    history.append(HistoryMessage(id=0, role="user", content=content))
    prefetch = await _prefetch(session, generations, user, state, history, mode="reply")
    with _cancel_on_error(prefetch):
        user_message = Message(
            conversation_id=state.conversation.id,
            user_id=state.conversation.user_id,
            parent_id=parent.id if parent else None,
            role="user",
            content=content,
        )
        await _add(session, state, user_message)
        reply = await _add(session, state, _empty_reply(state, user_message.id))
        if state.conversation.title in ("", state.character.name) and not _has_user_turns(state):
            state.conversation.title = _title_from(content)
        job = await _launch(session, generations, state, reply, "reply", prefetch)
    return state, user_message, reply, job


async def regenerate(
    session: AsyncSession, generations: Generations, user: User, message_id: int
) -> tuple[ConversationState, Message, GenerationJob]:
    """A new swipe of a reply; on a user message, a (new) reply to it."""
    state, message = await get_message_state(session, user, message_id)
    ensure_idle(state)
    if message.role == "assistant" and message.parent_id is None:
        raise InvalidInputError("Greetings come from the character card; swipe to see the others.")
    answered = message
    if message.role == "assistant" and message.parent_id is not None:
        answered = state.tree.nodes[message.parent_id]
    history = _history(state.tree.path_to(answered))
    prefetch = await _prefetch(session, generations, user, state, history, mode="reply")
    with _cancel_on_error(prefetch):
        reply = await _add(session, state, _empty_reply(state, answered.id))
        job = await _launch(session, generations, state, reply, "regenerate", prefetch)
    return state, reply, job


async def continue_reply(
    session: AsyncSession, generations: Generations, user: User, message_id: int
) -> tuple[ConversationState, Message, GenerationJob]:
    """Extend a reply where it stopped."""
    state, message = await get_message_state(session, user, message_id)
    ensure_idle(state)
    if message.role != "assistant":
        raise InvalidInputError("Only a character's reply can be continued.")
    history = _history(state.tree.path_to(message))
    prefetch = await _prefetch(session, generations, user, state, history, mode="continue")
    with _cancel_on_error(prefetch):
        select_path_to(state, message)
        base = message.content
        message.status, message.error = "streaming", None
        job = await _launch(session, generations, state, message, "continue", prefetch, base)
    return state, message, job


async def impersonate(
    session: AsyncSession, generations: Generations, user: User, conversation_id: int
) -> GenerationJob:
    """Draft the user's next line (not saved as a message)."""
    state = await get_state(session, user, conversation_id)
    ensure_idle(state)
    history = _history(state.path)
    prefetch = await _prefetch(session, generations, user, state, history, mode="impersonate")
    with _cancel_on_error(prefetch):
        return await _launch(session, generations, state, None, "impersonate", prefetch)


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


def _history(path: list[Message]) -> list[HistoryMessage]:
    return [HistoryMessage(id=m.id, role=m.role, content=m.content) for m in path]  # type: ignore[arg-type]


def _empty_reply(state: ConversationState, parent_id: int) -> Message:
    return Message(
        conversation_id=state.conversation.id,
        user_id=state.conversation.user_id,
        parent_id=parent_id,
        role="assistant",
        content="",
        status="streaming",
    )


async def _prefetch(
    session: AsyncSession,
    generations: Generations,
    user: User,
    state: ConversationState,
    history: list[HistoryMessage],
    *,
    mode: Mode,
) -> Prefetch:
    """Assemble the prompt and start the backend request (before anything is written)."""
    if generations.sparks is not None:  # a 402 before the model is asked anything
        await generations.sparks.check_reply(state.conversation.user_id, state.sampler.max_tokens)
    persona = state.persona or await accounts_service.get_persona(session, user)
    character = state.character
    conversation = state.conversation
    worlds = await worldbooks.books_for_chat(
        session, conversation.user_id, conversation.character_id, conversation.id
    )
    book = worldbooks.combined(state.character.book, worlds)
    lore = _lore(state, book, history, generations.tokenizer.count)
    memory = await _memory(session, generations, state, history)
    inputs = PromptInputs(
        character=character_prompt(character),
        lore_before=lore.before,
        lore_after=lore.after,
        lore_at_depth=[(d.depth, d.role, d.text) for d in lore.at_depth],
        persona=PersonaPrompt(name=persona.name, description=persona.description),
        history=history,
        scene=state.conversation.scene,
        memory=memory.texts,
        mode=mode,
        # Only an explicit character needs to know whether the user may see explicit content.
        content_policy=content.policy(
            character.rating,
            character.rating == content.EXPLICIT and await content.adult_allowed(session, user),
        ),
    )
    sampler = state.sampler
    backend = generations.backend
    prompt = assemble_prompt(
        inputs,
        tokenizer=generations.tokenizer,
        context_size=backend.context_size,
        reserve_tokens=sampler.max_tokens,
        rng_seed=state.conversation.id,
    )
    request = GenerationRequest(messages=prompt.messages, sampler=sampler, prefill=prompt.prefill)
    prefetch = Prefetch(backend, request)
    prefetch.trace = PromptTrace(memory.ids, _lore_trace(book, lore.used, worlds))
    return prefetch


async def _memory(
    session: AsyncSession,
    generations: Generations,
    state: ConversationState,
    history: list[HistoryMessage],
) -> MemoryPrompt:
    """What the character remembers for this turn, found from the newest message."""
    if generations.memory is None or not history:
        return MemoryPrompt()
    try:
        return await memory_for_prompt(
            session,
            generations.memory,
            user_id=state.conversation.user_id,
            character_id=state.character.id,
            conversation_id=state.conversation.id,
            query=history[-1].content,
            in_history={m.id for m in history},
            count_tokens=generations.tokenizer.count,
        )
    except Exception:
        # Memory helps a reply; it must never stop one (a model that fails to load, a row
        # sealed under a key that no longer opens): the character answers without it.
        log.exception("memory for conversation %s failed", state.conversation.id)
        return MemoryPrompt()


def _lore_trace(
    book: dict[str, Any], used: list[str], worlds: list[WorldBook]
) -> list[dict[str, Any]]:
    """The lorebook entries that went in: which book, which entry, and its name."""
    names = {w.id: w.name for w in worlds}
    entries = {str(e.get("id")): e for e in book.get("entries", []) if isinstance(e, dict)}
    trace = []
    for entry_id in used:
        source, _, local = entry_id.partition(":")
        entry = entries.get(entry_id, {})
        name = str(entry.get("comment") or entry.get("name") or "")
        if not name:
            keys = entry.get("keys") or []
            name = ", ".join(str(k) for k in keys[:3]) if isinstance(keys, list) else ""
        world = int(source[1:]) if source.startswith("w") and source[1:].isdigit() else None
        trace.append(
            {
                "book": "character" if world is None else f"world:{world}",
                "book_name": "" if world is None else names.get(world, ""),
                "entry": local,
                "name": name[:120],
            }
        )
    return trace


def _lore(
    state: ConversationState,
    book: dict[str, Any],
    history: list[HistoryMessage],
    count: Callable[[str], int],
) -> LoreResult:
    """The lorebook entries for this turn (the character's book, then the user's enabled
    world books); their timers move on with the chat."""
    path = state.path
    roots = state.tree.siblings(path[0]) if path else []
    greeting = roots.index(path[0]) if path and path[0] in roots else None
    scan = ScanInput(
        [m.content for m in history],
        greeting=greeting,
        turn=sum(1 for m in history if m.role == "assistant"),
    )
    timers = Timers.from_json(state.conversation.lore_timers)
    result = activate(book, scan, timers=timers, count_tokens=count)
    if result.timers != timers:
        state.conversation.lore_timers = result.timers.to_json()
    return result


@contextmanager
def _cancel_on_error(prefetch: Prefetch) -> Iterator[None]:
    try:
        yield
    except BaseException:
        prefetch.cancel()
        raise


async def _launch(
    session: AsyncSession,
    generations: Generations,
    state: ConversationState,
    reply: Message | None,
    kind: str,
    prefetch: Prefetch,
    base: str = "",
) -> GenerationJob:
    """Record the generation, commit, and hand the streaming over to the background task."""
    generation = Generation(
        conversation_id=state.conversation.id,
        user_id=state.conversation.user_id,
        message_id=reply.id if reply else None,
        kind=kind,
        status="streaming",
    )
    session.add(generation)
    trace = prefetch.trace
    if reply is not None and trace is not None and (trace.memories or trace.lore):
        record = await session.scalar(select(ReplyTrace).where(ReplyTrace.message_id == reply.id))
        if record is None:
            record = ReplyTrace(message_id=reply.id, user_id=state.conversation.user_id)
            session.add(record)
        record.memories, record.lore = trace.memories, trace.lore
    state.conversation.updated_at = utcnow()
    await session.flush()
    hold = None
    if generations.sparks is not None:  # refused here (402) when the user cannot pay
        hold = await generations.sparks.hold_reply(
            await session.connection(),
            state.conversation.user_id,
            generation.id,
            prefetch.max_tokens,
        )
    await session.commit()
    job = GenerationJob(
        generation_id=generation.id,
        conversation_id=state.conversation.id,
        user_id=state.conversation.user_id,
        message_id=reply.id if reply else None,
        kind=kind,
        prefetch=prefetch,
        base_content=base,
        hold=hold,
    )
    generations.start(job)
    return job


async def generation_events(
    session: AsyncSession,
    generations: Generations,
    user: User,
    generation_id: int,
    after: int,
    *,
    keepalive: float | None = None,
) -> AsyncIterator[list[Event]]:
    """The events of a generation after event id ``after``; from the saved result once
    it is no longer held in memory."""
    generation = await owned_generation(session, user, generation_id)
    stream = generations.hub.get(generation_id)
    if stream is not None:
        return stream.subscribe(after, keepalive=keepalive)
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
