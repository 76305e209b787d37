"""Account tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from afterdark.privacy.sealing import SealedField, SealedRow
from afterdark.store.base import Base, CreatedAt


class User(CreatedAt, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(100), default="")
    is_admin: Mapped[bool] = mapped_column(default=False)
    # The outcome of the sign-up age check only: never the birth date itself.
    age_checked_at: Mapped[datetime]
    age_check_method: Mapped[str] = mapped_column(String(40))
    # The user's choice to see explicit content; it only counts after a passed age check.
    explicit_opt_in: Mapped[bool] = mapped_column(default=False)
    # Premium pictures the user may still have for free (one for every new user).
    free_premium_pictures: Mapped[int] = mapped_column(default=1)


class AuthSession(CreatedAt, Base):
    """A browser login; the cookie holds a token whose digest is stored here."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    user_agent: Mapped[str] = mapped_column(String(300), default="")


class PasswordReset(CreatedAt, Base):
    """A single-use password reset link; only the digest of its secret is stored."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class ApiToken(CreatedAt, Base):
    """A bearer token for non-browser clients."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    last_used_at: Mapped[datetime | None]


class Persona(SealedRow, Base):
    """Who the user plays in chats: fills {{user}} and is described to the model."""

    __tablename__ = "personas"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    name = SealedField(str)
    description = SealedField(str)

    @property
    def sealed_owner(self) -> int:
        return self.user_id
