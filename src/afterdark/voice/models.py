"""Voice tables: each character's voice, and the spoken messages kept for replay.

A spoken message is the user's data like the message itself: its audio file is sealed with
the user's key, and the clip goes with the message (or the account).
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from afterdark.store.base import Base, CreatedAt, Timestamps


class CharacterVoice(Timestamps, Base):
    """How a character sounds: set by its owner in the Studio (a built-in by the catalogue)."""

    __tablename__ = "character_voices"

    character_id: Mapped[int] = mapped_column(
        ForeignKey("characters.id", ondelete="CASCADE"), primary_key=True
    )
    voice: Mapped[str] = mapped_column(String(100))
    speed: Mapped[float] = mapped_column(default=1.0)
    pitch: Mapped[float] = mapped_column(default=0.0)


class SpeechClip(CreatedAt, Base):
    """A message spoken once, kept so it plays again at once and is not paid twice."""

    __tablename__ = "speech_clips"
    __table_args__ = (UniqueConstraint("message_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    # What made it: backend, voice, speed, pitch and a hash of the text spoken.
    key: Mapped[str] = mapped_column(String(64))
    file_key: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(40))
    seconds: Mapped[float]
    sparks: Mapped[int] = mapped_column(default=0)
