"""Conversation use cases: create, read, edit, swipe, delete and branch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts import service as accounts_service
from afterdark.accounts.models import Persona, User
from afterdark.characters import service as characters_service
from afterdark.characters.models import Character
from afterdark.chat.macros import expand_macros
from afterdark.chat.models import Conversation, Generation, Message
from afterdark.chat.presets import CUSTOM, preset_sampler
from afterdark.chat.schemas import ConversationCreate, ConversationUpdate
from afterdark.chat.tree import Tree
from afterdark.errors import ConflictError, InvalidInputError, NotFoundError
from afterdark.kit.clock import utcnow
from afterdark.llm.base import SamplerSettings
from afterdark.safety import content, moderation
from afterdark.safety.limits import HardLimits

if TYPE_CHECKING:
    from afterdark.memory.context import MemoryContext


@dataclass
class ConversationState:
    """A conversation with its whole message tree loaded."""

    conversation: Conversation
    character: Character
    tree: Tree[Message]
    running_generation_id: int | None
    # The owner's persona, loaded with the conversation (None only for a pre-persona account).
    persona: Persona | None = None

    @property
    def path(self) -> list[Message]:
        return self.tree.active_path(self.conversation.active_root_id)

    @property
    def sampler(self) -> SamplerSettings:
        return SamplerSettings.model_validate(self.conversation.sampler)


async def create_conversation(
    session: AsyncSession, user: User, data: ConversationCreate
) -> Conversation:
    """A new conversation; the character's greetings become swipes of its first message."""
    character = await characters_service.get_character(session, user, data.character_id)
    if character.age is None:
        raise InvalidInputError(
            f"{character.name}'s card states no age. Set it (18 or older) in the Studio "
            "before chatting: every character on Afterdark is an adult."
        )
    sampler = preset_sampler(data.preset)
    conversation = Conversation(
        user_id=user.id,
        character_id=character.id,
        title=character.name,
        scene=data.scene.strip(),
        preset=data.preset,
        sampler=sampler.model_dump(),
    )
    session.add(conversation)
    await session.flush()
    # Greetings are stored as the user sees them (and the model will): macros expanded.
    persona = await accounts_service.get_persona(session, user)
    roots = [
        Message(
            conversation_id=conversation.id,
            user_id=user.id,
            parent_id=None,
            role="assistant",
            content=expand_macros(
                text,
                char=character.macro_name,
                user=persona.name,
                rng_seed=f"{conversation.id}:{i}",
            ),
        )
        for i, text in enumerate(character.greetings)
    ]
    session.add_all(roots)
    await session.flush()
    conversation.active_root_id = roots[0].id if roots else None
    await session.flush()
    return conversation


async def list_conversations(
    session: AsyncSession, user: User, character_id: int | None = None
) -> list[tuple[Conversation, Character]]:
    query = (
        select(Conversation, Character)
        .join(Character, Character.id == Conversation.character_id)
        .where(Conversation.user_id == user.id)
        .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
    )
    if character_id is not None:
        query = query.where(Conversation.character_id == character_id)
    return [(row[0], row[1]) for row in await session.execute(query)]


async def get_conversation(session: AsyncSession, user: User, conversation_id: int) -> Conversation:
    """The user's conversation, or NotFoundError (also for someone else's)."""
    conversation = await session.scalar(
        select(Conversation).where(
            Conversation.id == conversation_id, Conversation.user_id == user.id
        )
    )
    if conversation is None:
        raise NotFoundError(f"Conversation {conversation_id} does not exist.")
    return conversation


def _state_query() -> Select[Conversation, Character, int | None, Persona | None]:
    running = (
        select(Generation.id)
        .where(Generation.conversation_id == Conversation.id, Generation.status == "streaming")
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(Conversation, Character, running, Persona)
        .join(Character, Character.id == Conversation.character_id)
        .outerjoin(Persona, Persona.user_id == Conversation.user_id)
    )


async def _load(session: AsyncSession, *where: ColumnElement[bool]) -> ConversationState | None:
    """Two queries: the conversation with its character, running generation and the owner's
    persona; then its messages."""
    row = (await session.execute(_state_query().where(*where))).first()
    if row is None:
        return None
    conversation, character, running, persona = row
    messages = await session.scalars(
        select(Message).where(Message.conversation_id == conversation.id)
    )
    return ConversationState(conversation, character, Tree.build(messages), running, persona)


async def load_state(session: AsyncSession, conversation: Conversation) -> ConversationState:
    state = await _load(session, Conversation.id == conversation.id)
    assert state is not None
    return state


async def get_state(session: AsyncSession, user: User, conversation_id: int) -> ConversationState:
    """The user's conversation with its tree, or NotFoundError (also for someone else's)."""
    state = await _load(
        session, Conversation.id == conversation_id, Conversation.user_id == user.id
    )
    if state is None:
        raise NotFoundError(f"Conversation {conversation_id} does not exist.")
    await _gate(session, user, state)
    return state


async def _gate(session: AsyncSession, user: User, state: ConversationState) -> None:
    if state.character.rating == content.EXPLICIT:
        await content.require_adult(session, user, state.character.name)


async def get_message_state(
    session: AsyncSession, user: User, message_id: int
) -> tuple[ConversationState, Message]:
    """The conversation holding one of the user's messages, and that message."""
    holder = select(Message.conversation_id).where(Message.id == message_id).scalar_subquery()
    state = await _load(session, Conversation.id == holder, Conversation.user_id == user.id)
    if state is None:
        raise NotFoundError(f"Message {message_id} does not exist.")
    await _gate(session, user, state)
    return state, state.tree.nodes[message_id]


async def update_conversation(
    session: AsyncSession, user: User, conversation_id: int, data: ConversationUpdate
) -> Conversation:
    conversation = await get_conversation(session, user, conversation_id)
    if data.title is not None:
        conversation.title = data.title.strip()
    if data.scene is not None:
        conversation.scene = data.scene.strip()
    if data.preset is not None and data.preset != CUSTOM:
        conversation.sampler = preset_sampler(data.preset).model_dump()
        conversation.preset = data.preset
    if data.sampler is not None:
        conversation.sampler = data.sampler.model_dump()
        conversation.preset = CUSTOM
    conversation.updated_at = utcnow()
    await session.flush()
    return conversation


async def delete_conversation(session: AsyncSession, user: User, conversation_id: int) -> None:
    # No content gate: a user can always delete their own data.
    state = await _load(
        session, Conversation.id == conversation_id, Conversation.user_id == user.id
    )
    if state is None:
        raise NotFoundError(f"Conversation {conversation_id} does not exist.")
    if state.running_generation_id is not None:
        raise ConflictError("A reply is still being written; stop it before deleting.")
    await session.delete(state.conversation)
    await session.flush()
    await _forget_derived(session, user.id)


def turn_reply(state: ConversationState, message: Message) -> int | None:
    """The character's reply that ends ``message``'s turn (itself, or the active reply to
    it), if there is a finished one; a greeting has no turn."""
    if message.role == "assistant":
        return (
            message.id if message.parent_id is not None and message.status == "complete" else None
        )
    child = state.tree.nodes.get(message.active_child_id) if message.active_child_id else None
    if child is not None and child.role == "assistant" and child.status == "complete":
        return child.id
    return None


def ensure_idle(state: ConversationState, message: Message | None = None) -> None:
    if message is not None and message.status == "streaming":
        raise ConflictError("This message is still being written; stop it first.")
    if message is None and state.running_generation_id is not None:
        raise ConflictError("A reply is still being written; stop it or wait for it to finish.")


async def edit_message(
    session: AsyncSession,
    user: User,
    message_id: int,
    content: str,
    *,
    max_chars: int,
    limits: HardLimits | None = None,
    memory: MemoryContext | None = None,
) -> tuple[ConversationState, Message, bool]:
    """Change a message's text; whether it changed. What memory made of it is made again:
    its episode here; facts the model drew from it go, and ``turn_reply`` names the reply
    whose turn to ask again."""
    state, message = await get_message_state(session, user, message_id)
    ensure_idle(state, message)
    content = check_content(content, max_chars=max_chars, allow_empty=True)
    await moderation.screen_prompt(
        session, limits, content, user_id=user.id, conversation_id=state.conversation.id
    )
    changed = message.content != content
    message.content = content
    message.edited_at = utcnow()
    if message.status in ("error", "interrupted", "stopped"):
        message.status, message.error = "complete", None
    state.conversation.updated_at = utcnow()
    await session.flush()
    if memory is not None and memory.settings.enabled:
        from afterdark.memory.episodes import rederive_message  # memory builds on chat
        from afterdark.memory.pipeline import after_message_edited

        await rederive_message(session, memory, user, message)
        if changed:
            await after_message_edited(session, user.id, message.id)
    return state, message, changed


async def delete_message(session: AsyncSession, user: User, message_id: int) -> ConversationState:
    """Delete a message and every reply under it; the path moves to a neighbouring swipe."""
    state, message = await get_message_state(session, user, message_id)
    doomed = state.tree.subtree_ids(message)
    if any(state.tree.nodes[i].status == "streaming" for i in doomed):
        raise ConflictError("A reply under this message is still being written; stop it first.")
    remaining = [s for s in state.tree.siblings(message) if s.id != message.id]
    neighbour = remaining[-1].id if remaining else None
    if message.parent_id is None:
        state.conversation.active_root_id = neighbour
    else:
        parent = state.tree.nodes[message.parent_id]
        if parent.active_child_id in doomed or parent.active_child_id is None:
            parent.active_child_id = neighbour
    await session.delete(message)
    state.conversation.updated_at = utcnow()
    await session.flush()
    await _forget_derived(session, user.id)
    return await load_state(session, state.conversation)


async def _forget_derived(session: AsyncSession, user_id: int) -> None:
    """Memories made only from messages that are gone go with them."""
    from afterdark.memory.pipeline import after_messages_deleted  # memory builds on chat

    await after_messages_deleted(session, user_id)


def select_path_to(state: ConversationState, message: Message) -> None:
    """Make ``message`` part of the active path by pointing each ancestor at it."""
    path = state.tree.path_to(message)
    state.conversation.active_root_id = path[0].id
    for parent, child in zip(path, path[1:], strict=False):
        parent.active_child_id = child.id


async def swipe(
    session: AsyncSession, user: User, message_id: int, direction: str
) -> ConversationState:
    state, message = await get_message_state(session, user, message_id)
    siblings = state.tree.siblings(message)
    index, count = state.tree.swipe_position(message)
    target = index - 1 if direction == "left" else index + 1
    if not 0 <= target < count:
        edge = "first" if direction == "left" else "last"
        raise ConflictError(f"This is the {edge} swipe ({index + 1}/{count}).")
    select_path_to(state, siblings[target])
    await session.flush()
    return state


async def branch(
    session: AsyncSession, user: User, message_id: int, *, memory: MemoryContext | None = None
) -> Conversation:
    """A new conversation holding copies of the path from the greeting to ``message``; with
    memory on, the story summarised so far comes along."""
    state, message = await get_message_state(session, user, message_id)
    ensure_idle(state, message)
    source = state.conversation
    copy = Conversation(
        user_id=user.id,
        character_id=source.character_id,
        title=f"{source.title} (branch)"[:200],
        scene=source.scene,
        preset=source.preset,
        sampler=dict(source.sampler),
        branched_from_conversation_id=source.id,
        branched_from_message_id=message.id,
    )
    session.add(copy)
    await session.flush()
    parent: Message | None = None
    for original in state.tree.path_to(message):
        clone = Message(
            conversation_id=copy.id,
            user_id=user.id,
            parent_id=parent.id if parent else None,
            role=original.role,
            content=original.content,
            status=original.status,
            error=original.error,
            edited_at=original.edited_at,
        )
        session.add(clone)
        await session.flush()
        if parent is None:
            copy.active_root_id = clone.id
        else:
            parent.active_child_id = clone.id
        parent = clone
    await session.flush()
    if memory is not None and memory.settings.enabled:
        from afterdark.memory.summary import carry_into_branch  # memory builds on chat

        await carry_into_branch(session, memory, user, state, await load_state(session, copy))
    return copy


def check_content(content: str, *, max_chars: int, allow_empty: bool = False) -> str:
    if len(content) > max_chars:
        raise InvalidInputError(
            f"The message is too long: {len(content)} characters; the limit is {max_chars}."
        )
    if not allow_empty and not content.strip():
        raise InvalidInputError("The message is empty.")
    if "\x00" in content:
        raise InvalidInputError("The message contains a NUL character.")
    return content
