"""Admin routes (admin role only)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from afterdark.accounts import service as accounts_service
from afterdark.accounts.models import User
from afterdark.accounts.schemas import UserPublic
from afterdark.errors import NotFoundError
from afterdark.kit.clock import utcnow
from afterdark.safety import moderation
from afterdark.web.deps import AdminUser, Id, RuntimeDep, SessionDep

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


@router.get("/users")
async def list_users(_: AdminUser, session: SessionDep) -> list[UserPublic]:
    """Every account on this instance."""
    return [UserPublic.model_validate(u) for u in await accounts_service.list_users(session)]


class ResetLink(BaseModel):
    url: str
    expires_at: str


RESET_MINUTES = 60


def reset_url(base: str, secret: str) -> str:
    """The page that sets a new password; the secret rides in the fragment, which browsers
    never send to servers, so it stays out of access logs and Referer headers."""
    return f"{base.rstrip('/')}/reset#token={secret}"


@router.post("/users/{user_id}/reset-link", status_code=201)
async def create_reset_link(
    user_id: Id, request: Request, _: AdminUser, session: SessionDep, runtime: RuntimeDep
) -> ResetLink:
    """A single-use password reset link to hand to the user (valid for an hour)."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"User {user_id} does not exist.")
    secret = await accounts_service.create_password_reset(session, user, minutes=RESET_MINUTES)
    base = runtime.settings.server.public_url or str(request.base_url)
    expires = utcnow() + timedelta(minutes=RESET_MINUTES)
    return ResetLink(url=reset_url(base, secret), expires_at=expires.isoformat())


class ModerationEntry(BaseModel):
    id: int
    created_at: datetime
    user_id: int | None
    conversation_id: int | None
    source: str
    limit: str
    action: str
    signals: list[str]

    model_config = {"from_attributes": True}


@router.get("/moderation")
async def moderation_log(
    _: AdminUser, session: SessionDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[ModerationEntry]:
    """What the hard limits stopped, newest first: where, which limit, the rule hits; never
    the text itself."""
    return [ModerationEntry.model_validate(e) for e in await moderation.recent(session, limit)]
