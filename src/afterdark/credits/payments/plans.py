"""A user's plan and billing as the Sparks page shows them, read from ``stripe_customers``
(which Stripe's ``customer.subscription.*`` and ``invoice.paid`` events keep current)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from afterdark.credits.payments.checkout import ACTIVE, customer_row
from afterdark.credits.payments.models import StripeCustomer
from afterdark.credits.payments.settings import PaymentsSettings
from afterdark.store.engine import Database


@dataclass(frozen=True, slots=True)
class PlanState:
    key: str
    name: str  # the plan's name in the settings, or its key when no longer configured
    status: str | None  # Stripe's subscription status; None until Stripe has sent one
    active: bool  # on now (active, trialing, past_due): its unlocks apply
    cancel_at_period_end: bool
    current_period_end: datetime | None  # aware, UTC
    unlocks: list[str] = field(default_factory=list)  # keys; empty while not active


@dataclass(frozen=True, slots=True)
class Billing:
    customer: bool  # the user has a Stripe customer (the billing portal is theirs)
    plan: PlanState | None


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def billing_of(database: Database, settings: PaymentsSettings, user_id: int) -> Billing:
    """The user's Stripe customer and plan, if any (no call to Stripe)."""
    return billing_from(settings, await customer_row(database, user_id))


def billing_from(settings: PaymentsSettings, row: StripeCustomer | None) -> Billing:
    """The billing a user's ``stripe_customers`` row (None: they have none) stands for."""
    if row is None:
        return Billing(customer=False, plan=None)
    if row.plan is None:
        return Billing(customer=True, plan=None)
    plan = settings.plan(row.plan)
    active = row.plan_status in ACTIVE
    return Billing(
        customer=True,
        plan=PlanState(
            key=row.plan,
            name=plan.name if plan is not None else row.plan,
            status=row.plan_status,
            active=active,
            cancel_at_period_end=bool(row.cancel_at_period_end),
            current_period_end=_utc(row.current_period_end),
            unlocks=list(plan.unlocks) if plan is not None and active else [],
        ),
    )
