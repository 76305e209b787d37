"""Sparks routes: the user's statement (with their plan) and lines, the public price list
(with the packs and plans on sale once Stripe is set up), and an admin's view, grants and
revokes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from afterdark.accounts.models import User
from afterdark.credits.payments.plans import billing_of
from afterdark.credits.schemas import (
    PlanStatePublic,
    PricingPublic,
    SparkLinePublic,
    SparksAccountPublic,
    SparksAdjustment,
    SparksStatementPublic,
    lines_of,
    unlocks_of,
)
from afterdark.credits.service import Statement
from afterdark.errors import NotFoundError
from afterdark.runtime import Runtime
from afterdark.web.deps import AdminUser, CurrentUser, Id, RuntimeDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["sparks"])

Limit = Annotated[int, Query(ge=1, le=200, description="Lines per page.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="Lines to skip.")]


async def statement_public(
    runtime: Runtime, user_id: int, statement: Statement
) -> SparksStatementPublic:
    """A statement with the user's plan and whether the billing portal is theirs."""
    payments = runtime.settings.payments
    billing = await billing_of(runtime.database, payments, user_id)
    plan = billing.plan
    return SparksStatementPublic.of(
        statement,
        enabled=runtime.sparks.enabled,
        plan=None
        if plan is None
        else PlanStatePublic(
            key=plan.key,
            name=plan.name,
            status=plan.status,
            active=plan.active,
            cancel_at_period_end=plan.cancel_at_period_end,
            current_period_end=plan.current_period_end,
            unlocks=unlocks_of(plan.unlocks),
        ),
        billing=billing.customer and payments.configured,
    )


@router.get("/me/sparks")
async def my_sparks(user: CurrentUser, runtime: RuntimeDep) -> SparksStatementPublic:
    """The user's Sparks now, and their plan; the first look of the day gives today's free
    allowance."""
    sparks = runtime.sparks
    statement = await sparks.statement(user.id, use=sparks.enabled)
    return await statement_public(runtime, user.id, statement)


@router.get("/me/sparks/transactions")
async def my_transactions(
    user: CurrentUser, runtime: RuntimeDep, limit: Limit = 50, offset: Offset = 0
) -> list[SparkLinePublic]:
    """The user's statement lines, newest first: grants, charges with their holds."""
    return lines_of(await runtime.sparks.history(user.id, limit=limit, offset=offset))


@router.get("/pricing")
async def pricing(runtime: RuntimeDep) -> PricingPublic:
    """What each action costs in Sparks, what Sparks cost in money, the free allowance, and
    the packs and plans on sale (none while payments are off)."""
    return PricingPublic.of(
        runtime.settings.sparks,
        runtime.settings.payments,
        premium_pictures=runtime.pictures.premium_offered,
    )


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
        statement=await statement_public(runtime, user_id, statement),
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
    return await statement_public(runtime, user_id, statement)
