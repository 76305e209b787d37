"""A deleted account's customer is deleted at Stripe too (which also cancels its plan).

``record`` notes the account's Stripe customer in ``stripe_customer_deletions`` inside the
transaction that deletes the account, so the intent is as durable as the deletion itself;
nothing links the row to the user. Once that has committed, ``delete_pending`` asks Stripe
to delete each noted customer (``DELETE /v1/customers/{id}``) and removes the row when
Stripe has; a customer Stripe no longer knows (404 ``resource_missing``) counts as deleted.
A failure never undoes or holds up the account's deletion: the row stays with its attempts
and last error, and the payments sweep (at start and every 5 minutes, ``runtime.py``) tries
again. While payments are off (no Stripe keys) the rows wait.
"""

from __future__ import annotations

import logging
from typing import cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.credits.payments.models import StripeCustomer, StripeCustomerDeletion
from afterdark.credits.payments.settings import PaymentsSettings
from afterdark.kit.clock import utcnow
from afterdark.store.engine import Database

log = logging.getLogger(__name__)

deletions = cast(Table, StripeCustomerDeletion.__table__)


async def record(session: AsyncSession, user_id: int) -> str | None:
    """Note the user's Stripe customer, if they have one, for deletion at Stripe; call it in
    the transaction that deletes the user (before the cascade takes ``stripe_customers``)."""
    customer_id = await session.scalar(
        select(StripeCustomer.customer_id).where(StripeCustomer.user_id == user_id)
    )
    if customer_id is None:
        return None
    if await session.get(StripeCustomerDeletion, customer_id) is None:
        session.add(
            StripeCustomerDeletion(customer_id=customer_id, requested_at=utcnow(), attempts=0)
        )
    return customer_id


async def pending(database: Database) -> list[StripeCustomerDeletion]:
    """The customers still to be deleted at Stripe, oldest first."""
    async with database.session() as session:
        return list(
            await session.scalars(
                select(StripeCustomerDeletion).order_by(
                    StripeCustomerDeletion.requested_at, StripeCustomerDeletion.customer_id
                )
            )
        )


async def delete_pending(database: Database, settings: PaymentsSettings, limit: int = 100) -> int:
    """Ask Stripe to delete each noted customer, oldest first; how many are done now.

    Stripe unreachable: this round stops at once (the rest wait for the next one)."""
    if not settings.configured:
        return 0
    waiting = [row.customer_id for row in (await pending(database))[:limit]]
    if not waiting:
        return 0
    # Imported here: the Stripe SDK costs every CLI command a third of a second otherwise.
    import stripe

    from afterdark.credits.payments.client import stripe_client

    done = 0
    async with stripe_client(settings) as client:
        for customer_id in waiting:
            error: str | None = None
            unreachable = False
            try:
                await client.v1.customers.delete_async(customer_id)
            except stripe.InvalidRequestError as exc:
                if exc.code != "resource_missing":  # else: already gone, which is the aim
                    error = _why(exc)
            except stripe.StripeError as exc:
                error = _why(exc)
                unreachable = isinstance(exc, stripe.APIConnectionError)
            await _settle(database, customer_id, error)
            if error is None:
                done += 1
                continue
            log.warning(
                "deleting Stripe customer %s failed (kept to retry): %s", customer_id, error
            )
            if unreachable:
                break
    return done


async def try_delete_pending(database: Database, settings: PaymentsSettings) -> None:
    """``delete_pending`` after an account's deletion: whatever happens, nothing is raised
    (what failed stays noted for the sweep)."""
    try:
        await delete_pending(database, settings)
    except Exception:
        log.exception("deleting Stripe customers of deleted accounts failed; the sweep retries")


def _why(exc: Exception) -> str:
    status = getattr(exc, "http_status", None)
    text = getattr(exc, "user_message", None) or str(exc) or type(exc).__name__
    return (f"{status}: {text}" if status else f"{type(exc).__name__}: {text}")[:300]


async def _settle(database: Database, customer_id: str, error: str | None) -> None:
    async with database.engine.begin() as conn:
        if error is None:
            await conn.execute(delete(deletions).where(deletions.c.customer_id == customer_id))
        else:
            await conn.execute(
                update(deletions)
                .where(deletions.c.customer_id == customer_id)
                .values(
                    attempts=deletions.c.attempts + 1,
                    last_attempt_at=utcnow(),
                    last_error=error,
                )
            )
