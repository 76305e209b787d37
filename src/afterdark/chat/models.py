"""Conversation, message and generation tables.

A conversation is a tree of messages. Swipes are siblings (same parent, ordered by
id); each message remembers which child is active, and the conversation which root
(greeting) is, so the active path is root → active child → ... → leaf.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from afterdark.privacy.sealing import SealedField, SealedRow
from afterdark.store.base import Base, CreatedAt, Timestamps

MESSAGE_STATUSES = ("complete", "streaming", "stopped", "error", "interrupted")


class Conversation(SealedRow, Timestamps, Base):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    character_id: Mapped[int] = mapped_column(
        ForeignKey("characters.id", ondelete="CASCADE"), index=True
    )
    title = SealedField(str)
    scene = SealedField(str)
    # The lorebook's sticky and cooldown spans (memory/lorebook), carried from turn to turn.
    lore_timers = SealedField[dict[str, Any]](dict)
    preset: Mapped[str] = mapped_column(String(40), default="balanced")
    sampler: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Plain ids, not foreign keys: they point into the conversation's own tree.
    active_root_id: Mapped[int | None]
    branched_from_conversation_id: Mapped[int | None]
    branched_from_message_id: Mapped[int | None]

    @property
    def sealed_owner(self) -> int:
        return self.user_id


class Message(SealedRow, CreatedAt, Base):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conversation_parent", "conversation_id", "parent_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    # The conversation's owner, whose key seals the text.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    content = SealedField(str)
    status: Mapped[str] = mapped_column(String(16), default="complete")
    error: Mapped[str | None] = mapped_column(Text)
    active_child_id: Mapped[int | None]
    edited_at: Mapped[datetime | None]
    prompt_tokens: Mapped[int | None]
    completion_tokens: Mapped[int | None]

    @property
    def sealed_owner(self) -> int:
        return self.user_id


class Generation(SealedRow, CreatedAt, Base):
    """One run of the model: a reply, a regeneration, a continuation or an impersonation."""

    __tablename__ = "generations"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="streaming")
    error: Mapped[str | None] = mapped_column(Text)
    # An impersonation is not a message; its draft is kept here for a late subscriber.
    output = SealedField[str | None](lambda: None)
    finished_at: Mapped[datetime | None]

    @property
    def sealed_owner(self) -> int:
        return self.user_id
