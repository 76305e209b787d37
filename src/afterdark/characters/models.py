"""Character tables: the character, its files, and its saved versions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from afterdark.store.base import Base, CreatedAt, Timestamps


class Character(Timestamps, Base):
    __tablename__ = "characters"

    id: Mapped[int] = mapped_column(primary_key=True)
    # NULL owner: a built-in catalogue character, visible to everyone.
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    slug: Mapped[str | None] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    nickname: Mapped[str] = mapped_column(String(200), default="")
    # NULL: an imported card that states no age; the Studio asks for one before saving.
    age: Mapped[int | None]
    style: Mapped[str] = mapped_column(String(20), default="")
    # general | mature | explicit: explicit ones exist only for verified adults who opted in.
    rating: Mapped[str] = mapped_column(String(10), default="general")
    tagline: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    appearance: Mapped[str] = mapped_column(Text, default="")
    backstory: Mapped[str] = mapped_column(Text, default="")
    personality: Mapped[str] = mapped_column(Text, default="")
    speaking_style: Mapped[str] = mapped_column(Text, default="")
    scenario: Mapped[str] = mapped_column(Text, default="")
    first_message: Mapped[str] = mapped_column(Text, default="")
    alternate_greetings: Mapped[list[str]] = mapped_column(JSON, default=list)
    example_dialogue: Mapped[str] = mapped_column(Text, default="")
    system_prompt: Mapped[str] = mapped_column(Text, default="")
    post_history_instructions: Mapped[str] = mapped_column(Text, default="")
    creator_notes: Mapped[str] = mapped_column(Text, default="")
    creator: Mapped[str] = mapped_column(String(200), default="")
    character_version: Mapped[str] = mapped_column(String(100), default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The card's lorebook (``character_book``, V3 shape, unknown keys kept); NULL when none.
    book: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The catalogue portrait shipped in the package (built-ins only).
    avatar_path: Mapped[str | None] = mapped_column(String(300))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # An imported card's JSON text exactly as it was in the file, and where it came from:
    # export patches only what was edited since, so everything else survives unchanged.
    card_text: Mapped[str | None] = mapped_column(Text)
    card_spec: Mapped[str | None] = mapped_column(String(2))
    card_container: Mapped[str | None] = mapped_column(String(5))
    version: Mapped[int] = mapped_column(Integer, default=1)

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


class CharacterVersion(CreatedAt, Base):
    """A saved state of a character's editable fields; restoring one makes a new version."""

    __tablename__ = "character_versions"
    __table_args__ = (UniqueConstraint("character_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    character_id: Mapped[int] = mapped_column(
        ForeignKey("characters.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]
    note: Mapped[str] = mapped_column(String(200), default="")
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
