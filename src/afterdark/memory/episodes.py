"""Episodes: chat lines kept as memories, so a later chat can recall what was said.

After a finished turn the user's message and the character's reply each become one
``episode`` memory ("<name>: <text>", category shared, origin chat) whose source is that
message and whose time is the message's. One message has at most one episode: deriving
it again (an edit, a continued reply) rewrites the episode in place, and a message that no
longer deserves one (emptied, withheld, failed) loses it. Only one swipe of a turn is
remembered: a new reply retires the episodes of its sibling swipes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts import service as accounts_service
from afterdark.accounts.models import User
from afterdark.characters import service as characters_service
from afterdark.characters.models import Character
from afterdark.chat.models import Conversation, Message
from afterdark.kit.clock import as_utc, utcnow
from afterdark.memory import index, service
from afterdark.memory.context import MemoryContext
from afterdark.memory.models import Memory, MemorySource
from afterdark.safety import moderation

MAX_EPISODE_CHARS = 1500
"""Longer messages are cut (at a word) before they become an episode."""
MIN_WORDS = 2
"""Fewer words than this is a reaction ("ok", "hmm"), not something to recall."""
_FILLER = frozenset(
    "ok okay k kk yes yeah yep no nope hmm hm mm mhm lol haha hah oh ah uh um sure thanks "
    "thank you ty np right fine cool nice wow".split()
)
_WORDS = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


@dataclass(frozen=True)
class Speakers:
    """How the two sides of a chat are named in episode lines."""

    user: str
    character: str

    def of(self, message: Message) -> str:
        return self.user if message.role == "user" else self.character


async def speakers(session: AsyncSession, user: User, character: Character) -> Speakers:
    """The user's persona name and the character's chat name."""
    persona = await accounts_service.get_persona(session, user)
    return Speakers(persona.name.strip() or "User", character.macro_name.strip() or "Character")


def worth_remembering(message: Message) -> bool:
    """Whether a message should have an episode: finished, readable and not a mere reaction."""
    if message.role not in ("user", "assistant") or message.status != "complete":
        return False
    text = message.content.strip()
    if not text or text == moderation.WITHHELD:
        return False
    words = [w.lower() for w in _WORDS.findall(text)]
    if len(words) < MIN_WORDS:
        return False
    return not all(w in _FILLER for w in words)


def episode_text(name: str, content: str) -> str:
    """The episode line of a message, cut to ``MAX_EPISODE_CHARS`` at a word."""
    text = " ".join(content.split())
    if len(text) > MAX_EPISODE_CHARS:
        text = text[:MAX_EPISODE_CHARS].rsplit(" ", 1)[0] + " …"
    return f"{name}: {text}"


async def episodes_of(
    session: AsyncSession, user_id: int, message_ids: Sequence[int]
) -> dict[int, Memory]:
    """The episode of each message that has one, by message id."""
    if not message_ids:
        return {}
    rows = await session.execute(
        select(MemorySource.message_id, Memory)
        .join(Memory, Memory.id == MemorySource.memory_id)
        .where(
            MemorySource.message_id.in_(list(message_ids)),
            Memory.user_id == user_id,
            Memory.kind == "episode",
        )
        .order_by(Memory.id)
    )
    found: dict[int, Memory] = {}
    for message_id, memory in rows:
        found.setdefault(message_id, memory)
    return found


async def remember(
    session: AsyncSession,
    context: MemoryContext,
    user: User,
    character: Character,
    conversation_id: int,
    messages: Sequence[Message],
    names: Speakers,
) -> dict[int, Memory]:
    """Make or refresh the episodes of ``messages`` (a turn, oldest first) in the caller's
    transaction; the episodes that exist afterwards, by message id. The caller has passed
    the character's gate."""
    existing = await episodes_of(session, user.id, [m.id for m in messages])
    kept: dict[int, Memory] = {}
    dirty: list[tuple[Memory, str | None]] = []
    gone: list[int] = []
    previous: str | None = None
    for message in messages:
        episode = existing.get(message.id)
        context_line = previous
        previous = (
            episode_text(names.of(message), message.content) if worth_remembering(message) else None
        )
        if episode is not None and episode.origin == "user":
            kept[message.id] = episode  # the user rewrote it: theirs now, never re-derived
            continue
        if previous is None:
            if episode is not None:
                gone.append(episode.id)
            continue
        if episode is None:
            episode = Memory(
                user_id=user.id,
                character_id=character.id,
                conversation_id=conversation_id,
                kind="episode",
                category="shared",
                origin="chat",
                importance=0.3,
                happened_at=as_utc(message.created_at),
            )
            episode.text = previous
            session.add(episode)
            await session.flush()
            await service.add_sources(session, user, episode, [message.id])
            dirty.append((episode, context_line))
        elif episode.text != previous:
            episode.text = previous
            episode.updated_at = utcnow()
            dirty.append((episode, context_line))
        kept[message.id] = episode
    if dirty:
        # One batch for the turn; a reply's lexical terms include the line it answers, so
        # "yes, that one" is found by what it was about (its vector is of its own text:
        # embedding the pair measured worse on LoCoMo, docs/benchmarks.md).
        await index.index_memories(
            session,
            context.keyring,
            await context.embedder(),
            [memory for memory, _ in dirty],
            contexts=[line for _, line in dirty],
        )
    await service._delete_ids(session, user.id, gone)
    return kept


async def forget_swipes(session: AsyncSession, user_id: int, message: Message) -> int:
    """Delete the episodes of ``message``'s sibling swipes; how many went."""
    if message.parent_id is None:
        return 0
    siblings = select(Message.id).where(
        Message.parent_id == message.parent_id, Message.id != message.id
    )
    ids = list(
        await session.scalars(
            select(Memory.id)
            .join(MemorySource, MemorySource.memory_id == Memory.id)
            .where(
                MemorySource.message_id.in_(siblings),
                Memory.user_id == user_id,
                Memory.kind == "episode",
                Memory.origin == "chat",
            )
            .distinct()
        )
    )
    await service._delete_ids(session, user_id, ids)
    return len(ids)


async def rederive_message(
    session: AsyncSession, context: MemoryContext, user: User, message: Message
) -> Memory | None:
    """Bring ``message``'s episode up to date (after an edit or a swipe); the episode, if any.

    Runs in the caller's transaction; does nothing when memory is off.
    """
    if not context.settings.enabled or message.user_id != user.id:
        return None
    conversation = await session.get(Conversation, message.conversation_id)
    if conversation is None:
        return None
    character = await characters_service.get_character(session, user, conversation.character_id)
    names = await speakers(session, user, character)
    turn = [message]
    if message.role == "assistant" and message.parent_id is not None:
        parent = await session.get(Message, message.parent_id)
        if parent is not None and parent.role == "user":
            turn.insert(0, parent)  # the line it answers, embedded with it
    kept = await remember(session, context, user, character, conversation.id, turn, names)
    if message.role == "assistant":
        await forget_swipes(session, user.id, message)
    return kept.get(message.id)
