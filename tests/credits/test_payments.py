"""Payments through Stripe, against a loopback stand-in of Stripe's API and the real
database (SQLite and PostgreSQL): checkout, signed webhooks applied exactly once,
reordering, refunds and disputes, and a ledger that still reconciles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from afterdark.config import SparksSettings
from afterdark.credits import reconcile
from afterdark.credits.payments import webhooks
from afterdark.credits.payments.checkout import create_checkout
from afterdark.credits.payments.client import PaymentProviderError, PaymentsOffError
from afterdark.credits.payments.models import StripeCustomer, StripeEvent, StripePayment
from afterdark.credits.payments.portal import cancel_plan, create_portal
from afterdark.credits.payments.settings import PaymentsSettings
from afterdark.credits.payments.webhooks import BadSignatureError
from afterdark.credits.service import Sparks
from afterdark.store.engine import Database
from tests.credits.test_ledger import make_user
from tests.support.stripe_standin import (
    API_KEY,
    WEBHOOK_SECRET,
    StripeStandIn,
    event,
    serve_stripe,
    sign,
)

BASE = "https://afterdark.example"


@pytest.fixture
async def stripe_api() -> AsyncIterator[StripeStandIn]:
    async with serve_stripe() as server:
        yield server


@pytest.fixture
def settings(stripe_api: StripeStandIn) -> PaymentsSettings:
    return PaymentsSettings(
        stripe_secret_key=API_KEY,  # type: ignore[arg-type]
        stripe_webhook_secret=WEBHOOK_SECRET,  # type: ignore[arg-type]
        api_base=stripe_api.base_url,
    )


async def wallet(db: Database, user: int) -> int:
    statement = await Sparks(db, SparksSettings(daily_allowance=0)).statement(user, use=False)
    return statement.available


async def deliver(db: Database, settings: PaymentsSettings, payload: bytes) -> bool:
    """One webhook delivery as the route does it: verify, record, process, sweep."""
    received = await webhooks.receive(db, settings, payload, sign(payload))
    await webhooks.process(db, settings, received.id)
    await webhooks.process_pending(db, settings)
    return received.new


def pack_session(user: int, *, payment: str = "pi_1", sparks: int = 500) -> dict[str, Any]:
    return {
        "id": f"cs_{payment}",
        "object": "checkout.session",
        "mode": "payment",
        "payment_status": "paid",
        "status": "complete",
        "client_reference_id": str(user),
        "customer": f"cus_{user}",
        "payment_intent": payment,
        "amount_total": 299,
        "currency": "eur",
        "metadata": {"user_id": str(user), "kind": "pack", "item": "small", "sparks": str(sparks)},
    }


def plan_invoice(invoice: str, customer: str, metadata: dict[str, str]) -> dict[str, Any]:
    return {
        "id": invoice,
        "object": "invoice",
        "customer": customer,
        "amount_paid": 999,
        "currency": "eur",
        "status": "paid",
        "payment_intent": f"pi_{invoice}",
        "parent": {
            "type": "subscription_details",
            "subscription_details": {"subscription": "sub_1", "metadata": metadata},
        },
        "lines": {"object": "list", "data": []},
    }


async def test_checkout_for_a_pack_and_a_plan_sends_what_was_bought(
    db: Database, settings: PaymentsSettings, stripe_api: StripeStandIn
) -> None:
    user = await make_user(db)
    url = await create_checkout(db, settings, user, BASE, pack="small")
    assert url.startswith(f"{stripe_api.base_url}/pay/cs_test_")
    [customer_call] = stripe_api.calls("/v1/customers")
    assert customer_call["form"]["metadata"] == {"user_id": str(user)}
    assert customer_call["headers"]["Idempotency-Key"] == f"afterdark-customer-{user}"
    [call] = stripe_api.calls("/v1/checkout/sessions")
    form = call["form"]
    assert call["headers"]["Authorization"] == f"Bearer {API_KEY}"
    assert form["mode"] == "payment"
    assert form["client_reference_id"] == str(user)
    assert form["customer"] == stripe_api.objects[form["customer"]]["id"]
    assert form["metadata"] == {"user_id": str(user), "kind": "pack", "item": "small"} | {
        "sparks": "500"
    }
    assert form["payment_intent_data"]["metadata"] == form["metadata"]
    [line] = form["line_items"]
    assert line["price_data"]["unit_amount"] == "299"
    assert line["price_data"]["currency"] == "eur"
    assert form["success_url"] == BASE + settings.success_path

    await create_checkout(db, settings, user, BASE, plan="plus")
    assert len(stripe_api.calls("/v1/customers")) == 1  # the customer is reused
    plan_form = stripe_api.calls("/v1/checkout/sessions")[1]["form"]
    assert plan_form["mode"] == "subscription"
    assert plan_form["subscription_data"]["metadata"]["item"] == "plus"
    assert plan_form["line_items"][0]["price_data"]["recurring"] == {"interval": "month"}

    portal = await create_portal(db, settings, user, BASE)
    assert portal.startswith(f"{stripe_api.base_url}/portal/")
    [portal_call] = stripe_api.calls("/v1/billing_portal/sessions")
    assert portal_call["form"]["customer"] == form["customer"]


async def test_payments_are_off_without_keys_and_stripe_errors_are_reported(
    db: Database, settings: PaymentsSettings, stripe_api: StripeStandIn
) -> None:
    user = await make_user(db)
    with pytest.raises(PaymentsOffError):
        await create_checkout(db, PaymentsSettings(), user, BASE, pack="small")
    with pytest.raises(PaymentsOffError):
        await webhooks.receive(db, PaymentsSettings(), b"{}", "t=1,v1=00")
    stripe_api.fail_status = 400
    with pytest.raises(PaymentProviderError):
        await create_checkout(db, settings, user, BASE, pack="small")


async def test_a_signed_webhook_credits_a_pack_exactly_once(
    db: Database, settings: PaymentsSettings
) -> None:
    user = await make_user(db)
    payload = event("checkout.session.completed", pack_session(user), event_id="evt_pack")
    assert await deliver(db, settings, payload) is True
    assert await wallet(db, user) == 500
    # The same delivery again (Stripe retries), and a replay signed afresh: recorded once.
    assert await deliver(db, settings, payload) is False
    assert await deliver(db, settings, payload) is False
    # The same payment reached through another event id still credits once.
    other = event("checkout.session.async_payment_succeeded", pack_session(user))
    assert await deliver(db, settings, other) is True
    assert await wallet(db, user) == 500
    async with db.session() as session:
        row = await session.get(StripeEvent, "evt_pack")
        assert row is not None
        assert row.processed_at is not None
        assert row.payload is None  # kept only until applied
        assert (await session.get(StripeCustomer, user)) is not None
    assert (await reconcile.reconcile(db)).ok


@pytest.mark.parametrize("how", ["bad secret", "stale", "tampered", "no header"])
async def test_a_webhook_not_signed_by_stripe_is_refused(
    db: Database, settings: PaymentsSettings, how: str
) -> None:
    user = await make_user(db)
    payload = event("checkout.session.completed", pack_session(user))
    header = sign(payload)
    if how == "bad secret":
        header = sign(payload, "whsec_wrong")
    elif how == "stale":  # outside the 300 s tolerance
        header = sign(payload, timestamp=int(header.split(",")[0][2:]) - 3600)
    elif how == "tampered":
        payload = payload.replace(b'"sparks":"500"', b'"sparks":"99999"')
        assert b"99999" in payload
    with pytest.raises(BadSignatureError):
        await webhooks.receive(db, settings, payload, None if how == "no header" else header)
    async with db.session() as session:
        assert (await session.scalars(select(StripeEvent))).all() == []
    assert await wallet(db, user) == 0


async def test_reordered_plan_events_end_in_the_right_balance(
    db: Database, settings: PaymentsSettings
) -> None:
    user = await make_user(db)
    customer = "cus_plan"
    # invoice.paid arrives first, naming a customer not yet known and no metadata: it waits.
    early = event("invoice.paid", plan_invoice("in_1", customer, {}), event_id="evt_in_1")
    await deliver(db, settings, early)
    assert await wallet(db, user) == 0
    session_obj = {
        "id": "cs_sub",
        "object": "checkout.session",
        "mode": "subscription",
        "payment_status": "paid",
        "client_reference_id": str(user),
        "customer": customer,
        "subscription": "sub_1",
        "metadata": {"user_id": str(user), "kind": "plan", "item": "plus", "sparks": "3000"},
    }
    # The checkout completes: the customer is linked and the waiting invoice applies.
    await deliver(db, settings, event("checkout.session.completed", session_obj))
    assert await wallet(db, user) == 3000
    # A replay of that invoice, and the next month's invoice (with our metadata).
    await deliver(db, settings, early)
    meta = {"user_id": str(user), "kind": "plan", "item": "plus"}
    await deliver(db, settings, event("invoice.paid", plan_invoice("in_2", customer, meta)))
    await deliver(
        db, settings, event("invoice.payment_succeeded", plan_invoice("in_2", customer, meta))
    )
    assert await wallet(db, user) == 6000
    async with db.session() as session:
        row = await session.get(StripeCustomer, user)
        assert row is not None
        assert (row.plan, row.plan_status, row.subscription_id) == ("plus", "active", "sub_1")
    assert (await reconcile.reconcile(db)).ok


async def test_subscription_state_follows_the_newest_event(
    db: Database, settings: PaymentsSettings, stripe_api: StripeStandIn
) -> None:
    user = await make_user(db)
    meta = {"user_id": str(user), "kind": "plan", "item": "plus"}
    await deliver(db, settings, event("invoice.paid", plan_invoice("in_9", "cus_s", meta)))
    stripe_api.add_subscription("sub_1", "cus_s")
    await cancel_plan(db, settings, user)
    [update] = stripe_api.calls("/v1/subscriptions/sub_1")
    assert update["form"] == {"cancel_at_period_end": "true"}
    sub = {"id": "sub_1", "object": "subscription", "customer": "cus_s", "metadata": meta}
    deleted = event("customer.subscription.deleted", sub | {"status": "canceled"}, created=2000)
    stale = event("customer.subscription.updated", sub | {"status": "active"}, created=1000)
    await deliver(db, settings, deleted)
    await deliver(db, settings, stale)  # older than the deletion: ignored
    async with db.session() as session:
        row = await session.get(StripeCustomer, user)
        assert row is not None
        assert (row.plan, row.plan_status) == (None, "canceled")


async def test_a_refund_and_a_dispute_take_the_credit_back_never_below_zero(
    db: Database, settings: PaymentsSettings
) -> None:
    user = await make_user(db)
    await deliver(db, settings, event("checkout.session.completed", pack_session(user)))
    charge = {"id": "ch_1", "object": "charge", "payment_intent": "pi_1", "amount": 299}
    # A partial refund (about half), then its repeat: half of the Sparks once.
    half = event("charge.refunded", charge | {"amount_refunded": 150, "refunded": False})
    await deliver(db, settings, half)
    await deliver(db, settings, half)
    assert await wallet(db, user) == 500 - 500 * 150 // 299
    # The user spends most of the rest; a dispute takes back what is left, not more.
    left = await wallet(db, user)
    sparks = Sparks(db, SparksSettings(daily_allowance=0))
    await sparks.spend(user, left - 10, op="spend:test", action="reply")
    dispute = {"id": "dp_1", "object": "dispute", "charge": "ch_1", "payment_intent": "pi_1"}
    await deliver(db, settings, event("charge.dispute.created", dispute | {"amount": 299}))
    assert await wallet(db, user) == 0
    # The full refund after the dispute finds nothing more to take.
    await deliver(db, settings, event("charge.refunded", charge | {"amount_refunded": 299}))
    assert await wallet(db, user) == 0
    async with db.session() as session:
        payment = await session.get(StripePayment, "pi_1")
        assert payment is not None
        assert payment.reversed_sparks == 500
        assert payment.shortfall_sparks == left - 10
    assert (await reconcile.reconcile(db)).ok


async def test_a_full_refund_of_an_unspent_pack_empties_it(
    db: Database, settings: PaymentsSettings
) -> None:
    user = await make_user(db)
    await deliver(db, settings, event("checkout.session.completed", pack_session(user)))
    await deliver(
        db,
        settings,
        event("checkout.session.completed", pack_session(user, payment="pi_2", sparks=200)),
    )
    assert await wallet(db, user) == 700
    charge = {"id": "ch_2", "object": "charge", "payment_intent": "pi_2", "amount": 299}
    await deliver(db, settings, event("charge.refunded", charge | {"amount_refunded": 299}))
    assert await wallet(db, user) == 500
    body = orjson.loads(event("charge.refunded", charge | {"amount_refunded": 299}))
    assert body["type"] == "charge.refunded"
    assert (await reconcile.reconcile(db)).ok
