"""Admin routes (admin role only)."""

from __future__ import annotations

from fastapi import APIRouter

from afterdark.accounts import service as accounts_service
from afterdark.accounts.schemas import UserPublic
from afterdark.web.deps import AdminUser, SessionDep

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


@router.get("/users")
async def list_users(_: AdminUser, session: SessionDep) -> list[UserPublic]:
    """Every account on this instance."""
    return [UserPublic.model_validate(u) for u in await accounts_service.list_users(session)]
