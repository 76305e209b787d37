"""Stripe webhooks: verified over the raw body, recorded once, applied once.

``receive`` checks the ``Stripe-Signature`` header over the exact bytes received, with a
tolerance on its timestamp, and records the event by its unique id (a duplicate or a replay
finds it recorded and adds nothing); the route acknowledges at once and ``process`` applies
it in a job. ``process`` marks the event processed in the same transaction that changes the
ledger, so it applies exactly once; each ledger operation is also idempotent by its own id
(``stripe:...``), so the same payment reached through two events never credits twice.

An event that names a customer not yet known (events may arrive in any order) stays
unprocessed and ``process_pending`` applies it later. An event for an account deleted since
(deleting the account deletes its customer at Stripe, which cancels its plan and says so in
an event) is recorded as ignored.

Applied: ``checkout.session.completed`` (and ``async_payment_succeeded``) for a pack: the
wallet is credited from ``purchases``; ``invoice.paid`` for a plan: the month's grant;
``customer.subscription.*``: the plan's state; ``charge.refunded`` and
``charge.dispute.created``: the credit is taken back into ``refunds``, as far as the user
still has it (the shortfall is recorded).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import orjson
import stripe
from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from afterdark.accounts.models import User
from afterdark.credits import ledger
from afterdark.credits.ledger import Meta
from afterdark.credits.payments.client import require_configured
from afterdark.credits.payments.models import StripeCustomer, StripeEvent, StripePayment
from afterdark.credits.payments.settings import PaymentsSettings
from afterdark.credits.transaction import in_transaction
from afterdark.errors import AfterdarkError
from afterdark.kit.clock import utcnow
from afterdark.store.engine import Database

events = cast(Table, StripeEvent.__table__)
MAX_ATTEMPTS = 50
"""An event still unappliable after this many tries is left for a person to look at."""
customers = cast(Table, StripeCustomer.__table__)
payments = cast(Table, StripePayment.__table__)
users = cast(Table, User.__table__)


class BadSignatureError(AfterdarkError):
    status = 400
    code = "bad_signature"


@dataclass(frozen=True, slots=True)
class Received:
    id: str
    type: str
    new: bool  # False: a duplicate or replay of an event already recorded


class _Deferred(Exception):
    """The event can't be applied yet (its customer is unknown); roll back, retry later."""


class _UserGone(Exception):
    """The event is for an account deleted since: there is no one to apply it to."""

    def __init__(self, user_id: int) -> None:
        super().__init__(user_id)
        self.user_id = user_id


def _insert(conn: AsyncConnection, table: Table):  # type: ignore[no-untyped-def]
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


async def receive(
    database: Database, settings: PaymentsSettings, payload: bytes, signature: str | None
) -> Received:
    """Verify and record one webhook delivery; ``BadSignatureError`` when it is not Stripe's."""
    require_configured(settings)
    assert settings.stripe_webhook_secret is not None
    try:
        stripe.Webhook.construct_event(
            payload,
            signature or "",
            settings.stripe_webhook_secret.get_secret_value(),
            tolerance=settings.webhook_tolerance_seconds,
        )
        event = orjson.loads(payload)
        event_id, event_type = str(event["id"]), str(event["type"])
        created = int(event.get("created") or 0)
    except stripe.SignatureVerificationError as exc:
        raise BadSignatureError(f"Webhook signature refused: {exc.user_message or exc}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise BadSignatureError("Webhook body is not a Stripe event.") from exc
    async with database.engine.begin() as conn:
        result = await conn.execute(
            _insert(conn, events)
            .values(
                id=event_id,
                type=event_type[:100],
                created=created,
                received_at=utcnow(),
                attempts=0,
                payload=payload.decode(),
            )
            .on_conflict_do_nothing()
        )
    return Received(event_id, event_type, result.rowcount == 1)


async def process(database: Database, settings: PaymentsSettings, event_id: str) -> str | None:
    """Apply one recorded event, once; its outcome, or None when it waits (or was done)."""

    async def work(conn: AsyncConnection) -> str | None:
        row = (
            await conn.execute(
                select(events.c.payload, events.c.created).where(
                    events.c.id == event_id, events.c.processed_at.is_(None)
                )
            )
        ).first()
        if row is None or row.payload is None:
            return None  # done before
        outcome = await _apply(conn, settings, orjson.loads(row.payload), int(row.created))
        claimed = await conn.execute(
            update(events)
            .where(events.c.id == event_id, events.c.processed_at.is_(None))
            .values(processed_at=utcnow(), outcome=outcome[:300], payload=None)
        )
        if claimed.rowcount != 1:
            raise _Deferred  # someone else applied it meanwhile: undo ours
        return outcome

    try:
        return await in_transaction(database, work)
    except _Deferred:
        async with database.engine.begin() as conn:
            await conn.execute(
                update(events).where(events.c.id == event_id).values(attempts=events.c.attempts + 1)
            )
        return None


async def process_pending(database: Database, settings: PaymentsSettings, limit: int = 100) -> int:
    """Apply events that wait (out of order, or a crash after receipt), oldest first."""
    async with database.engine.connect() as conn:
        ids = list(
            await conn.scalars(
                select(events.c.id)
                .where(events.c.processed_at.is_(None), events.c.attempts < MAX_ATTEMPTS)
                .order_by(events.c.created, events.c.received_at)
                .limit(limit)
            )
        )
    applied = 0
    for event_id in ids:
        applied += await process(database, settings, event_id) is not None
    return applied


# -- applying ---------------------------------------------------------------------------


def _id(value: Any) -> str | None:
    """An id, from an expanded object or a plain id."""
    if isinstance(value, dict):
        value = value.get("id")
    return str(value) if value else None


async def _user_for(conn: AsyncConnection, obj: dict[str, Any], *metadata: Any) -> int:
    """The user an object is for: our metadata, else its known customer; else wait."""
    for meta in metadata:
        if isinstance(meta, dict) and str(meta.get("user_id", "")).isdigit():
            user_id = int(meta["user_id"])
            if await conn.scalar(select(users.c.id).where(users.c.id == user_id)) is None:
                raise _UserGone(user_id)
            return user_id
    customer = _id(obj.get("customer"))
    if customer:
        found = await conn.scalar(
            select(customers.c.user_id).where(customers.c.customer_id == customer)
        )
        if found is not None:
            return int(found)
    raise _Deferred


async def _apply(
    conn: AsyncConnection, settings: PaymentsSettings, event: dict[str, Any], created: int
) -> str:
    try:
        return await _dispatch(conn, settings, event, created)
    except _UserGone as gone:  # raised before anything is written
        return f"ignored: user {gone.user_id} no longer exists (account deleted)"


async def _dispatch(
    conn: AsyncConnection, settings: PaymentsSettings, event: dict[str, Any], created: int
) -> str:
    obj = event.get("data", {}).get("object", {})
    kind = event.get("type", "")
    if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        return await _checkout_completed(conn, settings, event, obj)
    if kind in ("invoice.paid", "invoice.payment_succeeded"):
        return await _invoice_paid(conn, settings, obj)
    if kind.startswith("customer.subscription."):
        return await _subscription(conn, settings, obj, created, deleted=kind.endswith("deleted"))
    if kind == "charge.refunded":
        return await _refunded(conn, obj)
    if kind == "charge.dispute.created":
        return await _disputed(conn, obj)
    return f"ignored: {kind}"


async def _link_customer(conn: AsyncConnection, user_id: int, customer: str | None) -> None:
    if customer:
        await conn.execute(
            _insert(conn, customers)
            .values(
                user_id=user_id,
                customer_id=customer,
                cancel_at_period_end=False,
                created_at=utcnow(),
                updated_at=utcnow(),
            )
            .on_conflict_do_nothing()
        )


async def _credit_payment(
    conn: AsyncConnection,
    *,
    payment_id: str,
    invoice_id: str | None,
    user_id: int,
    kind: str,
    item: str,
    sparks: int,
    amount: int,
    currency: str,
    op: str,
    note: str,
) -> str:
    """Credit ``sparks`` bought with one payment, and record the payment (both once)."""
    if sparks > 0:
        have = await ledger.balances(conn, user_id)
        purchases = await ledger.system_account(conn, "purchases")
        meta = Meta(kind="purchase", user_id=user_id, ref=payment_id[:120], note=note[:300])
        outcome = await ledger.credit_user(conn, op, have, purchases, sparks, meta)
        if outcome.status == "exists":
            return f"exists: {op}"
    await conn.execute(
        _insert(conn, payments)
        .values(
            id=payment_id,
            invoice_id=invoice_id,
            user_id=user_id,
            kind=kind,
            item=item[:40],
            sparks=sparks,
            amount_cents=amount,
            currency=currency[:3],
            op=op,
            reversed_sparks=0,
            shortfall_sparks=0,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing()
    )
    return f"credited {sparks} Sparks to user {user_id} ({op})"


async def _checkout_completed(
    conn: AsyncConnection, settings: PaymentsSettings, event: dict[str, Any], obj: dict[str, Any]
) -> str:
    metadata = obj.get("metadata") or {}
    user_id = await _user_for(conn, obj, metadata, {"user_id": obj.get("client_reference_id")})
    await _link_customer(conn, user_id, _id(obj.get("customer")))
    if obj.get("mode") == "subscription":
        plan = settings.plan(str(metadata.get("item", "")))
        if plan is not None and (subscription := _id(obj.get("subscription"))):
            await conn.execute(
                update(customers)
                .where(customers.c.user_id == user_id)
                .values(plan=plan.key, subscription_id=subscription, updated_at=utcnow())
            )
        return f"subscription checkout for user {user_id}: granted on invoice.paid"
    if obj.get("payment_status") not in ("paid", "no_payment_required"):
        return f"checkout {obj.get('id')} not paid yet"
    if metadata.get("kind") != "pack":
        return f"ignored: checkout {obj.get('id')} is not for a pack"
    pack = settings.pack(str(metadata.get("item", "")))
    sparks = (
        int(metadata["sparks"])
        if str(metadata.get("sparks", "")).isdigit()
        else (pack.sparks if pack else 0)
    )
    payment_id = _id(obj.get("payment_intent")) or str(obj.get("id") or event["id"])
    return await _credit_payment(
        conn,
        payment_id=payment_id,
        invoice_id=None,
        user_id=user_id,
        kind="pack",
        item=str(metadata.get("item", "")),
        sparks=sparks,
        amount=int(obj.get("amount_total") or 0),
        currency=str(obj.get("currency") or settings.currency),
        op=f"stripe:{payment_id}"[:100],
        note=f"Pack {metadata.get('item', '')}: {sparks} Sparks",
    )


def _invoice_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    """Our subscription metadata on an invoice (where each API version puts it)."""
    for holder in (obj.get("parent") or {}, obj):
        details = holder.get("subscription_details") or {}
        if details.get("metadata"):
            return dict(details["metadata"])
    for line in (obj.get("lines") or {}).get("data") or []:
        if line.get("metadata"):
            return dict(line["metadata"])
    return {}


def _invoice_price(obj: dict[str, Any]) -> str | None:
    for line in (obj.get("lines") or {}).get("data") or []:
        price = line.get("price") or (line.get("pricing") or {}).get("price_details") or {}
        found = _id(price.get("price") if "price" in price else price)
        if found:
            return found
    return None


def _invoice_subscription(obj: dict[str, Any]) -> str | None:
    details = (obj.get("parent") or {}).get("subscription_details") or {}
    return _id(obj.get("subscription") or details.get("subscription"))


async def _invoice_paid(
    conn: AsyncConnection, settings: PaymentsSettings, obj: dict[str, Any]
) -> str:
    subscription = _invoice_subscription(obj)
    if not subscription:
        return f"ignored: invoice {obj.get('id')} is not for a plan"
    metadata = _invoice_metadata(obj)
    user_id = await _user_for(conn, obj, metadata)
    await _link_customer(conn, user_id, _id(obj.get("customer")))
    plan = settings.plan(str(metadata.get("item", "")))
    if plan is None and (price := _invoice_price(obj)):
        plan = settings.plan_for_price(price)
    if plan is None:  # the plan its checkout recorded
        known = await conn.scalar(
            select(customers.c.plan).where(
                customers.c.user_id == user_id, customers.c.subscription_id == subscription
            )
        )
        plan = settings.plan(known or "")
    if plan is None:
        return f"ignored: invoice {obj.get('id')} is for no plan configured here"
    invoice_id = str(obj["id"])
    await conn.execute(
        update(customers)
        .where(customers.c.user_id == user_id)
        .values(
            plan=plan.key,
            plan_status="active",
            subscription_id=subscription,
            updated_at=utcnow(),
        )
    )
    payment_id = _id(obj.get("payment_intent")) or invoice_id
    return await _credit_payment(
        conn,
        payment_id=payment_id,
        invoice_id=invoice_id,
        user_id=user_id,
        kind="plan",
        item=plan.key,
        sparks=plan.monthly_sparks,
        amount=int(obj.get("amount_paid") or 0),
        currency=str(obj.get("currency") or settings.currency),
        op=f"stripe:{invoice_id}"[:100],
        note=f"Plan {plan.key}: the monthly {plan.monthly_sparks} Sparks",
    )


async def _subscription(
    conn: AsyncConnection,
    settings: PaymentsSettings,
    obj: dict[str, Any],
    created: int,
    *,
    deleted: bool,
) -> str:
    metadata = obj.get("metadata") or {}
    user_id = await _user_for(conn, obj, metadata)
    await _link_customer(conn, user_id, _id(obj.get("customer")))
    current = (
        await conn.execute(
            select(customers.c.plan_event_at, customers.c.subscription_id).where(
                customers.c.user_id == user_id
            )
        )
    ).first()
    if (
        current is not None
        and current.plan_event_at is not None
        and current.plan_event_at > created
    ):
        return f"ignored: an older state of subscription {obj.get('id')}"
    plan = settings.plan(str(metadata.get("item", "")))
    if plan is None:
        items = (obj.get("items") or {}).get("data") or []
        prices = [_id(i.get("price")) for i in items]
        plan = next((p for p in map(settings.plan_for_price, filter(None, prices)) if p), None)
    status = "canceled" if deleted else str(obj.get("status") or "active")[:20]
    end = obj.get("current_period_end") or next(
        (i.get("current_period_end") for i in (obj.get("items") or {}).get("data") or []), None
    )
    await conn.execute(
        update(customers)
        .where(customers.c.user_id == user_id)
        .values(
            plan=None if deleted or plan is None else plan.key,
            plan_status=status,
            subscription_id=_id(obj.get("id")),
            cancel_at_period_end=bool(obj.get("cancel_at_period_end")),
            current_period_end=datetime.fromtimestamp(int(end), UTC) if end else None,
            plan_event_at=created,
            updated_at=utcnow(),
        )
    )
    return f"plan of user {user_id}: {status}"


async def _payment_for(conn: AsyncConnection, obj: dict[str, Any]) -> Any:
    for column, value in (
        (payments.c.id, _id(obj.get("payment_intent"))),
        (payments.c.invoice_id, _id(obj.get("invoice"))),
    ):
        if value:
            row = (await conn.execute(select(payments).where(column == value))).first()
            if row is not None:
                return row
    return None


async def _reverse(conn: AsyncConnection, payment: Any, sparks: int, op: str, why: str) -> str:
    """Take back up to ``sparks`` of a payment's credit, as far as the user still has it."""
    sparks = min(sparks, payment.sparks - payment.reversed_sparks)
    if sparks <= 0 or payment.user_id is None:
        return f"nothing left to reverse of {payment.id}"
    have = await ledger.balances(conn, payment.user_id)
    take = min(sparks, max(have.available, 0))
    short = sparks - take
    if take > 0:
        refunds = await ledger.system_account(conn, "refunds")
        note = f"{why}: {sparks} Sparks" + (f", {short} already spent" if short else "")
        meta = Meta(kind="refund", user_id=payment.user_id, ref=payment.id[:120], note=note)
        outcome = await ledger.debit_user(conn, op, have, refunds, take, meta)
        if outcome.status == "exists":
            return f"exists: {op}"
    await conn.execute(
        update(payments)
        .where(payments.c.id == payment.id)
        .values(
            reversed_sparks=payments.c.reversed_sparks + sparks,
            shortfall_sparks=payments.c.shortfall_sparks + short,
        )
    )
    return f"reversed {take} of {sparks} Sparks of {payment.id} (short {short})"


async def _refunded(conn: AsyncConnection, obj: dict[str, Any]) -> str:
    payment = await _payment_for(conn, obj)
    if payment is None:
        raise _Deferred  # the payment's own event has not come yet
    amount, refunded = int(obj.get("amount") or 0), int(obj.get("amount_refunded") or 0)
    if amount <= 0 or refunded <= 0:
        return f"ignored: nothing refunded on {obj.get('id')}"
    # The share of the Sparks refunded so far, less what was already taken back.
    due = min(payment.sparks, payment.sparks * refunded // amount) - payment.reversed_sparks
    op = f"stripe:refund:{obj.get('id')}:{refunded}"[:100]
    return await _reverse(conn, payment, due, op, "Refunded")


async def _disputed(conn: AsyncConnection, obj: dict[str, Any]) -> str:
    payment = await _payment_for(conn, obj)
    if payment is None:
        raise _Deferred
    op = f"stripe:dispute:{obj.get('id')}"[:100]
    return await _reverse(conn, payment, payment.sparks, op, "Disputed")
