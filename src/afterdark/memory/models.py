"""Memory tables: the user's global world books."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from afterdark.privacy.sealing import SealedField, SealedRow
from afterdark.store.base import Base, Timestamps


class WorldBook(SealedRow, Timestamps, Base):
    """A lorebook of the user's own that applies to every chat while it is enabled."""

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
