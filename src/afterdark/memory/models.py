"""Memory tables: world books, memories with their provenance, and the blind lexical index.

A memory is one thing the character remembers: a conversation's rolling summary, a fact
extracted from the chat, an episode (a chat message kept for retrieval), or a note the user
wrote. Its text and its vector are sealed with the owner's key; what stays plain is what
retrieval filters and ranks on (scope, kind, pinned, importance, times). Each memory lists
the messages it came from in ``memory_sources``; deleting a message takes its row there
with it, and the service then deletes or re-derives the memories left without a source.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from afterdark.privacy.sealing import SealedField, SealedRow
from afterdark.store.base import Base, CreatedAt, Timestamps

KINDS = ("summary", "fact", "episode", "note")
CATEGORIES = ("user", "character", "shared", "plan", "preference", "other")
ORIGINS = ("chat", "extracted", "summarised", "user", "imported")


class WorldBook(SealedRow, Timestamps, Base):
    """A lorebook of the user's own. It joins every chat while ``enabled``, and otherwise
    the chats its links choose (``WorldBookLink``): a character's, or one chat."""

    __tablename__ = "world_books"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    name = SealedField(str)
    # The book in the ``character_book`` shape (SillyTavern fields in entry extensions).
    book = SealedField[dict[str, Any]](lambda: {"entries": [], "extensions": {}})

    @property
    def sealed_owner(self) -> int:
        return self.user_id


class WorldBookLink(CreatedAt, Base):
    """A world book chosen for one character's chats or for one chat (SillyTavern's
    character and chat lore). Exactly one of the two ids is set."""

    __tablename__ = "world_book_links"
    __table_args__ = (
        CheckConstraint("(character_id IS NULL) <> (conversation_id IS NULL)", name="one_target"),
        UniqueConstraint("book_id", "character_id", name="uq_world_book_links_character"),
        UniqueConstraint("book_id", "conversation_id", name="uq_world_book_links_conversation"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    book_id: Mapped[int] = mapped_column(ForeignKey("world_books.id", ondelete="CASCADE"))
    character_id: Mapped[int | None] = mapped_column(
        ForeignKey("characters.id", ondelete="CASCADE"), index=True
    )
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )


class Memory(SealedRow, Timestamps, Base):
    """One remembered item in a (user, character) scope, or the user's own across characters.

    ``character_id`` NULL: a memory about the user that every character may use (the user
    chose to share it). ``superseded_by_id`` points at the fact that replaced this one; a
    superseded fact is kept for the record but never retrieved.
    """

    __tablename__ = "memories"
    __table_args__ = (
        Index("ix_memories_scope", "user_id", "character_id", "kind"),
        Index("ix_memories_conversation", "conversation_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    character_id: Mapped[int | None] = mapped_column(
        ForeignKey("characters.id", ondelete="CASCADE")
    )
    # The conversation it was made in (a summary's own conversation); NULL once deleted.
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(16), default="other")
    origin: Mapped[str] = mapped_column(String(16), default="chat")
    pinned: Mapped[bool] = mapped_column(default=False)
    importance: Mapped[float] = mapped_column(default=0.5)
    superseded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("memories.id", ondelete="SET NULL")
    )
    # When the thing remembered happened (the source message's time), for recency.
    happened_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    # The embedding model that made ``vector`` (re-embedded when the configured one changes).
    embedder: Mapped[str | None] = mapped_column(String(40))
    text = SealedField(str)
    # The embedding: base64 of little-endian float16 values, L2-normalised.
    vector = SealedField(str)

    @property
    def sealed_owner(self) -> int:
        return self.user_id


class MemorySource(CreatedAt, Base):
    """Provenance: a message a memory came from."""

    __tablename__ = "memory_sources"

    memory_id: Mapped[int] = mapped_column(
        ForeignKey("memories.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ReplyTrace(SealedRow, CreatedAt, Base):
    """What went into a reply's prompt: the memories and lorebook entries ("why did she
    say that?"). Sealed, since entry names are the user's text."""

    __tablename__ = "reply_traces"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), unique=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Memory ids in prompt order (pinned and the summary first, then by retrieval rank).
    memories = SealedField[list[int]](list)
    # Lorebook entries: {"book": "character"|"world:<id>", "entry": id, "name": comment}.
    lore = SealedField[list[dict[str, Any]]](list)

    @property
    def sealed_owner(self) -> int:
        return self.user_id
