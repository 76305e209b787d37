"""Character tables: the character, its files, and its saved versions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from afterdark.privacy.sealing import SealedField, SealedRow
from afterdark.store.base import Base, CreatedAt, Timestamps


class Character(SealedRow, Timestamps, Base):
    __tablename__ = "characters"

    id: Mapped[int] = mapped_column(primary_key=True)
    # NULL owner: a built-in catalogue character, visible to everyone.
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    slug: Mapped[str | None] = mapped_column(String(100), unique=True)
    name = SealedField(str)
    nickname = SealedField(str)
    # NULL: an imported card that states no age; the Studio asks for one before saving.
    age: Mapped[int | None]
    style: Mapped[str] = mapped_column(String(20), default="")
    # general | mature | explicit: explicit ones exist only for verified adults who opted in.
    rating: Mapped[str] = mapped_column(String(10), default="general")
    # Everything the user wrote is sealed with the owner's key (plain JSON for built-ins).
    tagline = SealedField(str)
    description = SealedField(str)
    appearance = SealedField(str)
    backstory = SealedField(str)
    personality = SealedField(str)
    speaking_style = SealedField(str)
    scenario = SealedField(str)
    first_message = SealedField(str)
    alternate_greetings = SealedField[list[str]](list)
    example_dialogue = SealedField(str)
    system_prompt = SealedField(str)
    post_history_instructions = SealedField(str)
    creator_notes = SealedField(str)
    creator = SealedField(str)
    character_version = SealedField(str)
    tags = SealedField[list[str]](list)
    # The card's lorebook (``character_book``, V3 shape, unknown keys kept); None when none.
    book = SealedField[dict[str, Any] | None](lambda: None)
    # The catalogue portrait shipped in the package (built-ins only).
    avatar_path: Mapped[str | None] = mapped_column(String(300))
    extra = SealedField[dict[str, Any]](dict)
    # An imported card's JSON text exactly as it was in the file, and where it came from:
    # export patches only what was edited since, so everything else survives unchanged.
    card_text = SealedField[str | None](lambda: None)
    card_spec: Mapped[str | None] = mapped_column(String(2))
    card_container: Mapped[str | None] = mapped_column(String(5))
    version: Mapped[int] = mapped_column(Integer, default=1)

    @property
    def sealed_owner(self) -> int | None:
        return self.owner_id

    @property
    def macro_name(self) -> str:
        """What ``{{char}}`` becomes: the V3 nickname when set, else the name."""
        return self.nickname.strip() or self.name

    @property
    def greetings(self) -> list[str]:
        """The first message and its alternates, in swipe order, empty ones left out."""
        return [g for g in [self.first_message, *self.alternate_greetings] if g.strip()]


class CharacterAsset(CreatedAt, Base):
    """A file that belongs to a character: the original PNG card, a CharX member, an avatar."""

    __tablename__ = "character_assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    character_id: Mapped[int] = mapped_column(
        ForeignKey("characters.id", ondelete="CASCADE"), index=True
    )
    # card_png: the imported PNG itself (image and every chunk); member: a CharX member;
    # avatar: an image the owner uploaded; thumbnail: the small image lists show.
    role: Mapped[str] = mapped_column(String(20))
    path: Mapped[str] = mapped_column(String(1000), default="")
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    file_key: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(default=0)


class CharacterVersion(SealedRow, CreatedAt, Base):
    """A saved state of a character's editable fields; restoring one makes a new version."""

    __tablename__ = "character_versions"
    __table_args__ = (UniqueConstraint("character_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    character_id: Mapped[int] = mapped_column(
        ForeignKey("characters.id", ondelete="CASCADE"), index=True
    )
    # The character's owner (None for a built-in), whose key seals the fields.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    number: Mapped[int]
    note = SealedField(str)
    fields = SealedField[dict[str, Any]](dict)

    @property
    def sealed_owner(self) -> int | None:
        return self.owner_id
