"""Sparks routes: the user's statement and lines, the public price list, and an admin's
view, grants and revokes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from afterdark.accounts.models import User
from afterdark.credits.schemas import (
    PricingPublic,
    SparkLinePublic,
    SparksAccountPublic,
    SparksAdjustment,
    SparksStatementPublic,
    lines_of,
)
from afterdark.errors import NotFoundError
from afterdark.web.deps import AdminUser, CurrentUser, Id, RuntimeDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["sparks"])

Limit = Annotated[int, Query(ge=1, le=200, description="Lines per page.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="Lines to skip.")]


@router.get("/me/sparks")
async def my_sparks(user: CurrentUser, runtime: RuntimeDep) -> SparksStatementPublic:
    """The user's Sparks now; the first look of the day gives today's free allowance."""
    sparks = runtime.sparks
    statement = await sparks.statement(user.id, use=sparks.enabled)
    return SparksStatementPublic.of(statement, enabled=sparks.enabled)


@router.get("/me/sparks/transactions")
async def my_transactions(
    user: CurrentUser, runtime: RuntimeDep, limit: Limit = 50, offset: Offset = 0
) -> list[SparkLinePublic]:
    """The user's statement lines, newest first: grants, charges with their holds."""
    return lines_of(await runtime.sparks.history(user.id, limit=limit, offset=offset))


@router.get("/pricing")
async def pricing(runtime: RuntimeDep) -> PricingPublic:
    """What each action costs in Sparks, what Sparks cost in money, the free allowance."""
    return PricingPublic.of(runtime.settings.sparks)


async def _account(user_id: int, session: SessionDep) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"User {user_id} does not exist.")
    return user


async def _view(runtime: RuntimeDep, user_id: int, limit: int) -> SparksAccountPublic:
    sparks = runtime.sparks
    statement = await sparks.statement(user_id, use=False)  # an admin's look gives nothing
    return SparksAccountPublic(
        user_id=user_id,
        statement=SparksStatementPublic.of(statement, enabled=sparks.enabled),
        lines=lines_of(await sparks.history(user_id, limit=limit)),
    )


@router.get("/admin/users/{user_id}/sparks")
async def user_sparks(
    user_id: Id, _: AdminUser, session: SessionDep, runtime: RuntimeDep, limit: Limit = 50
) -> SparksAccountPublic:
    """Any account's Sparks and latest lines (admin only)."""
    await _account(user_id, session)
    return await _view(runtime, user_id, limit)


@router.post("/admin/users/{user_id}/sparks")
async def adjust_sparks(
    user_id: Id, data: SparksAdjustment, _: AdminUser, session: SessionDep, runtime: RuntimeDep
) -> SparksStatementPublic:
    """Grant Sparks to an account's wallet, or take them back (free first; 402 and nothing
    changed when it has fewer); the new statement. The reason shows on the user's lines."""
    await _account(user_id, session)
    sparks = runtime.sparks
    if data.action == "grant":
        await sparks.grant(user_id, data.amount, reason=data.reason)
    else:
        await sparks.revoke(user_id, data.amount, reason=data.reason)
    statement = await sparks.statement(user_id, use=False)
    return SparksStatementPublic.of(statement, enabled=sparks.enabled)
