"""A user's own healthy-use settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from afterdark.store.base import Base, CreatedAt


class WellbeingSettings(Base):
    """Limits and reminders a user sets for themselves; nothing here is ever used to sell."""

    __tablename__ = "wellbeing_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    daily_minutes: Mapped[int | None]
    daily_messages: Mapped[int | None]
    break_minutes: Mapped[int | None] = mapped_column(default=60)
    nudges: Mapped[bool] = mapped_column(default=True)
    # Off: reaching a limit only reminds. On: sending stops until the next day.
    hard_stop: Mapped[bool] = mapped_column(default=False)
    # Where the user's days begin and end (IANA name), set by their browser.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")


class AgeCheck(CreatedAt, Base):
    """One age check: its outcome, method, time and jurisdiction; never a document or a
    birth date. While pending, only the digest of its single-use state is kept."""

    __tablename__ = "age_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending|passed|failed
    method: Mapped[str] = mapped_column(String(40), default="")
    jurisdiction: Mapped[str] = mapped_column(String(16), default="")
    state_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    checked_at: Mapped[datetime | None]


class LikenessAttestation(CreatedAt, Base):
    """What an uploader affirmed about a picture with a face in it; never the face itself."""

    __tablename__ = "likeness_attestations"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    character_id: Mapped[int] = mapped_column(
        ForeignKey("characters.id", ondelete="CASCADE"), index=True
    )
    # The picture it is about (a CharacterAsset's file key).
    file_key: Mapped[str] = mapped_column(String(64))
    # fictional | consent, and the exact statement the user agreed to.
    kind: Mapped[str] = mapped_column(String(20))
    statement: Mapped[str] = mapped_column(String(300))
    faces: Mapped[int]


class ModerationEvent(CreatedAt, Base):
    """A hard limit that stopped something. Holds what the rules found, never the text."""

    __tablename__ = "moderation_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Kept when the account is deleted (the user is then unknown): admins see the pattern.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    conversation_id: Mapped[int | None]
    # prompt (what a user sent) | output (what the model wrote)
    source: Mapped[str] = mapped_column(String(20))
    # minors | real_people
    limit: Mapped[str] = mapped_column(String(20))
    # refused (never stored) | withheld (a reply cut and replaced)
    action: Mapped[str] = mapped_column(String(20))
    signals: Mapped[list[str]] = mapped_column(JSON, default=list)
