"""Admin routes (admin role only)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from pydantic import BaseModel

from afterdark.accounts import service as accounts_service
from afterdark.accounts.models import User
from afterdark.accounts.schemas import UserPublic
from afterdark.errors import NotFoundError
from afterdark.kit.clock import utcnow
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
