"""Checkout Sessions: a one-off pack (``mode=payment``) or a monthly plan
(``mode=subscription``), for the user's own Stripe customer.

``client_reference_id`` and the metadata (on the session, and on its payment intent or
subscription) carry the user's id and what was bought, so each webhook can be applied
without trusting anything but Stripe's signed events.
"""

from __future__ import annotations

from typing import Any, cast

import stripe
from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite

from afterdark.credits.payments.client import stripe_client
from afterdark.credits.payments.models import StripeCustomer
from afterdark.credits.payments.settings import Pack, PaymentsSettings, Plan
from afterdark.errors import ConflictError, InvalidInputError
from afterdark.store.engine import Database

customers = cast(Table, StripeCustomer.__table__)
ACTIVE = frozenset({"active", "trialing", "past_due"})
"""Plan states in which the plan is still on (past_due: Stripe is retrying the payment)."""


async def customer_row(database: Database, user_id: int) -> StripeCustomer | None:
    async with database.session() as session:
        return await session.get(StripeCustomer, user_id)


async def ensure_customer(database: Database, client: stripe.StripeClient, user_id: int) -> str:
    """The user's Stripe customer id, made on first use (idempotent on Stripe's side too)."""
    known = await customer_row(database, user_id)
    if known is not None:
        return known.customer_id
    customer = await client.v1.customers.create_async(
        {"metadata": {"user_id": str(user_id)}},
        {"idempotency_key": f"afterdark-customer-{user_id}"},
    )
    async with database.engine.begin() as conn:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        await conn.execute(
            dialect.insert(customers)
            .values(user_id=user_id, customer_id=customer.id, cancel_at_period_end=False)
            .on_conflict_do_nothing()
        )
        found = await conn.scalar(
            select(customers.c.customer_id).where(customers.c.user_id == user_id)
        )
    return str(found)


def _line(settings: PaymentsSettings, item: Pack | Plan) -> dict[str, Any]:
    if item.price_id:
        return {"price": item.price_id, "quantity": 1}
    price: dict[str, Any] = {
        "currency": settings.currency.lower(),
        "unit_amount": item.amount_cents,
        "product_data": {"name": item.name},
    }
    if isinstance(item, Plan):
        price["recurring"] = {"interval": "month"}
    return {"price_data": price, "quantity": 1}


async def create_checkout(
    database: Database,
    settings: PaymentsSettings,
    user_id: int,
    base_url: str,
    *,
    pack: str | None = None,
    plan: str | None = None,
) -> str:
    """A Checkout Session for a pack or a plan; the URL to send the user to."""
    if (pack is None) == (plan is None):
        raise InvalidInputError("Choose either a pack or a plan.")
    item: Pack | Plan | None = settings.pack(pack) if pack else settings.plan(plan or "")
    if item is None:
        raise InvalidInputError(f"There is no {'pack' if pack else 'plan'} {pack or plan!r}.")
    if isinstance(item, Plan):
        row = await customer_row(database, user_id)
        if row is not None and row.plan is not None and row.plan_status in ACTIVE:
            raise ConflictError(
                "You already have a plan: change or cancel it in the billing portal."
            )
    base = base_url.rstrip("/")
    metadata = {
        "user_id": str(user_id),
        "kind": "plan" if isinstance(item, Plan) else "pack",
        "item": item.key,
        "sparks": str(item.monthly_sparks if isinstance(item, Plan) else item.sparks),
    }
    params: dict[str, Any] = {
        "client_reference_id": str(user_id),
        "line_items": [_line(settings, item)],
        "metadata": metadata,
        "success_url": base + settings.success_path,
        "cancel_url": base + settings.cancel_path,
    }
    if isinstance(item, Plan):
        params |= {"mode": "subscription", "subscription_data": {"metadata": metadata}}
    else:
        params |= {"mode": "payment", "payment_intent_data": {"metadata": metadata}}
    async with stripe_client(settings) as client:
        params["customer"] = await ensure_customer(database, client, user_id)
        session = await client.v1.checkout.sessions.create_async(cast(Any, params))
    if not session.url:
        raise ConflictError("The payment provider gave no checkout address.")
    return session.url
