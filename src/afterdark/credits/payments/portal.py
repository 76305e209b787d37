"""The Stripe customer portal: invoices, the payment method, and cancelling a plan in one
click (``cancel_plan`` does the same from Afterdark's own page)."""

from __future__ import annotations

from afterdark.credits.payments.checkout import ACTIVE, customer_row, ensure_customer
from afterdark.credits.payments.client import stripe_client
from afterdark.credits.payments.settings import PaymentsSettings
from afterdark.errors import NotFoundError
from afterdark.store.engine import Database


async def create_portal(
    database: Database, settings: PaymentsSettings, user_id: int, base_url: str
) -> str:
    """A customer-portal session for the user; the URL to send them to."""
    async with stripe_client(settings) as client:
        customer = await ensure_customer(database, client, user_id)
        session = await client.v1.billing_portal.sessions.create_async(
            {"customer": customer, "return_url": base_url.rstrip("/") + settings.portal_return_path}
        )
    return session.url


async def cancel_plan(database: Database, settings: PaymentsSettings, user_id: int) -> None:
    """Cancel the user's plan at the end of the paid month (its unlocks last until then).
    Stripe's ``customer.subscription.updated`` / ``deleted`` events record the new state."""
    row = await customer_row(database, user_id)
    if row is None or row.subscription_id is None or row.plan_status not in ACTIVE:
        raise NotFoundError("You have no plan to cancel.")
    async with stripe_client(settings) as client:
        await client.v1.subscriptions.update_async(
            row.subscription_id, {"cancel_at_period_end": True}
        )
