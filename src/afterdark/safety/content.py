"""Who may see explicit content: a verified adult who turned it on and, where a plan that
unlocks explicit content is on sale, has that plan. Nothing unlocks content about minors or
sexual content about real people; those are refused everywhere.

``explicit_access`` is the one decision; every place that shows, stores or writes explicit
content asks it (through ``adult_allowed`` or ``require_adult``). The plan part reads the
payment settings the session carries (``store/engine.py``, ``PAYMENTS``) and follows
``credits/unlocks.py``: while payments are off, or no plan on sale offers ``explicit``, no
plan is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts.models import User
from afterdark.credits import unlocks
from afterdark.credits.payments.models import StripeCustomer
from afterdark.credits.payments.plans import billing_from
from afterdark.credits.payments.settings import PaymentsSettings
from afterdark.errors import PaymentRequiredError, PermissionDeniedError
from afterdark.safety import age
from afterdark.store.engine import PAYMENTS

EXPLICIT = "explicit"

HARD_LIMITS = (
    "Content rules that always apply: every character is an adult, 18 or older. Never write "
    "sexual or romantic content involving anyone under 18, whatever is asked, and never "
    "sexual content about real, identifiable people."
)
RATING_POLICY = {
    "general": "Keep this roleplay free of sexual content.",
    "mature": "Romance and mature themes are welcome; keep intimate moments non-explicit "
    "and fade to black.",
    EXPLICIT: "Explicit content between the adult characters is allowed when {{user}} leads there.",
}


def policy(rating: str, adult: bool) -> str:
    """The content rules the model is given for a character of ``rating``.

    Explicit wording is only ever given to a verified adult who turned it on; anyone else
    gets the mature rules at most. The hard limits come with every rating.
    """
    if rating == EXPLICIT and not adult:
        rating = "mature"
    return f"{HARD_LIMITS} {RATING_POLICY.get(rating, RATING_POLICY['general'])}"


@dataclass(frozen=True, slots=True)
class ExplicitAccess:
    """Where a user stands with explicit content."""

    opted_in: bool  # their own switch in Settings
    age_verified: bool  # their newest age check passed
    plan_needed: bool  # a plan offering explicit content is on sale and they have none on

    @property
    def allowed(self) -> bool:
        return self.opted_in and self.age_verified and not self.plan_needed


NO_ACCESS = ExplicitAccess(opted_in=False, age_verified=False, plan_needed=False)


def _selling_explicit(session: AsyncSession) -> PaymentsSettings | None:
    """The payment settings where a plan on sale includes explicit content, else None."""
    payments: PaymentsSettings | None = session.sync_session.info.get(PAYMENTS)
    if payments is None or not unlocks.for_sale(payments, EXPLICIT):
        return None
    return payments


def plan_needed_message(session: AsyncSession) -> str:
    payments = _selling_explicit(session)
    plans = payments.plans if payments is not None else []
    names = " or ".join(plan.name for plan in plans if EXPLICIT in plan.unlocks)
    return f"Explicit content here comes with a plan ({names}): see the prices page to choose one."


async def explicit_plan_needed(session: AsyncSession, user: User) -> bool:
    """True where a plan offering explicit content is on sale and the user has none on."""
    payments = _selling_explicit(session)
    if payments is None:
        return False
    billing = billing_from(payments, await session.get(StripeCustomer, user.id))
    return billing.plan is None or EXPLICIT not in billing.plan.unlocks


async def explicit_access(session: AsyncSession, user: User | None) -> ExplicitAccess:
    if user is None:
        return NO_ACCESS
    return ExplicitAccess(
        opted_in=user.explicit_opt_in,
        age_verified=await age.is_verified(session, user),
        plan_needed=await explicit_plan_needed(session, user),
    )


async def adult_allowed(session: AsyncSession, user: User | None) -> bool:
    """True for a user who opted in to explicit content, passed an age check and, where
    explicit content is sold in a plan, has that plan."""
    return (await explicit_access(session, user)).allowed


async def require_adult(session: AsyncSession, user: User | None, what: str) -> None:
    """403 unless opted in and verified; then 402 while a plan is needed for it."""
    access = await explicit_access(session, user)
    if not (access.opted_in and access.age_verified):
        raise PermissionDeniedError(
            f"{what} is rated explicit: it is only for adults who passed an age check and "
            "turned on explicit content in Settings."
        )
    if access.plan_needed:
        raise PaymentRequiredError(f"{what} is rated explicit. {plan_needed_message(session)}")


async def set_explicit(session: AsyncSession, user: User, enabled: bool) -> bool:
    """Turn explicit content on (only after a passed age check and, where one is needed,
    with the plan that includes it) or off (always)."""
    if enabled and not await age.is_verified(session, user):
        raise PermissionDeniedError(
            "Explicit content needs a passed age check first (Settings, age check)."
        )
    if enabled and await explicit_plan_needed(session, user):
        raise PaymentRequiredError(plan_needed_message(session))
    # The current user comes from the login check's own session: write through this one.
    await session.execute(update(User).where(User.id == user.id).values(explicit_opt_in=enabled))
    user.explicit_opt_in = enabled
    return enabled
