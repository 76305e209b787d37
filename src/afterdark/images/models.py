"""Image tables: the pictures a user asked for, and each character's reference face.

A picture's words (what was asked, the prompt sent) and its tries are sealed with the
owner's key, its file is sealed too (``FileStore.save``); plain columns hold what the
gallery sorts and filters on and the figures of the identity check.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from afterdark.privacy.sealing import SealedField, SealedRow
from afterdark.store.base import Base, Timestamps

STATUSES = ("queued", "rendering", "done", "failed", "cancelled", "withheld")


class Picture(SealedRow, Timestamps, Base):
    """One picture of a character, from the request to the stored, scored render."""

    __tablename__ = "pictures"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    character_id: Mapped[int] = mapped_column(
        ForeignKey("characters.id", ondelete="CASCADE"), index=True
    )
    # The chat it was asked for in, and the message that shows it there.
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(12), default="queued")
    backend: Mapped[str] = mapped_column(String(20))
    # How the backend used the reference face ("instantid", "pulid", ...; "" when it did not).
    identity_method: Mapped[str] = mapped_column(String(20), default="")
    seed: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int]
    height: Mapped[int]
    tries: Mapped[int] = mapped_column(default=0)
    # The chosen render against the reference face: None when there was no reference.
    faces: Mapped[int | None]
    distance: Mapped[float | None]
    similarity: Mapped[float | None]
    identity_passed: Mapped[bool | None]
    # The first try's score, so the gallery can show what re-rolling changed.
    first_distance: Mapped[float | None]
    explicit: Mapped[bool] = mapped_column(default=False)
    file_key: Mapped[str | None] = mapped_column(String(64))
    media_type: Mapped[str | None] = mapped_column(String(40))
    sparks: Mapped[int] = mapped_column(default=0)
    # Rendered with the premium image model (``images.premium_*``).
    premium: Mapped[bool] = mapped_column(default=False)
    # It is the user's one free premium picture: given back if it is not made.
    free_premium: Mapped[bool] = mapped_column(default=False)
    # The Sparks hold that pays for it (settled when it is done, released otherwise).
    hold_op: Mapped[str | None] = mapped_column(String(80))
    error: Mapped[str | None] = mapped_column(String(500))
    request = SealedField(str)
    prompt = SealedField(str)
    negative = SealedField(str)
    # Every try: {"seed", "distance", "faces", "passed"}.
    attempts = SealedField[list[dict[str, Any]]](list)

    @property
    def sealed_owner(self) -> int:
        return self.user_id


class ReferenceFace(SealedRow, Timestamps, Base):
    """The face a character should have in this user's pictures: a render the user picked
    or a picture they uploaded (with the likeness attestation), and its identity encoding."""

    __tablename__ = "reference_faces"
    __table_args__ = (UniqueConstraint("user_id", "character_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    character_id: Mapped[int] = mapped_column(
        ForeignKey("characters.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(12))  # render | upload
    picture_id: Mapped[int | None] = mapped_column(ForeignKey("pictures.id", ondelete="SET NULL"))
    attestation: Mapped[str | None] = mapped_column(String(20))  # fictional | consent (uploads)
    file_key: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(40))
    # The face's 128-d encoding (base64 of float32), sealed like the picture.
    encoding = SealedField(str)

    @property
    def sealed_owner(self) -> int:
        return self.user_id
