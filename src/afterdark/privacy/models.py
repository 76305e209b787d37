"""Users' data keys, each stored wrapped by the key-encryption key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from afterdark.store.base import Base, CreatedAt


class UserKey(CreatedAt, Base):
    """One version of a user's data key. Deleting the rows makes the user's data unreadable."""

    __tablename__ = "user_keys"
    __table_args__ = (UniqueConstraint("user_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    # Which key-encryption key wrapped it (the provider's key_id), for re-wrapping.
    kek_id: Mapped[str] = mapped_column(String(100))
    # Set when a newer version takes over: old versions still open old data.
    retired_at: Mapped[datetime | None]
