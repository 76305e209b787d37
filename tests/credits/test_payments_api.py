"""The payment routes over HTTP: off until configured, Checkout and the portal against the
Stripe stand-in, and the webhook: verified, acknowledged, applied once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from afterdark.app import create_app
from afterdark.config import Settings
from tests.conftest import make_settings, signup
from tests.credits.test_payments import pack_session
from tests.credits.test_reply_charges import runtime_of, user_id
from tests.support.stripe_standin import (
    API_KEY,
    WEBHOOK_SECRET,
    StripeStandIn,
    event,
    serve_stripe,
    sign,
)

WEBHOOK = "/api/v1/payments/stripe/webhook"


@pytest.fixture
async def stripe_api() -> AsyncIterator[StripeStandIn]:
    async with serve_stripe() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, llm_base_url: str, stripe_api: StripeStandIn) -> Settings:
    return make_settings(
        tmp_path,
        llm_base_url,
        sparks={"enabled": True, "daily_allowance": 0},
        payments={
            "stripe_secret_key": API_KEY,
            "stripe_webhook_secret": WEBHOOK_SECRET,
            "api_base": stripe_api.base_url,
        },
    )


async def wallet(http: httpx.AsyncClient) -> int:
    response = await http.get("/api/v1/me/sparks")
    assert response.status_code == 200, response.text
    return int(response.json()["wallet"])


async def post_event(http: httpx.AsyncClient, payload: bytes, signature: str) -> httpx.Response:
    return await http.post(
        WEBHOOK,
        content=payload,
        headers={"stripe-signature": signature, "content-type": "application/json"},
    )


async def test_payments_are_off_until_configured(tmp_path: Path, llm_base_url: str) -> None:
    app = create_app(make_settings(tmp_path, llm_base_url))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http,
    ):
        await signup(http)
        refused = await http.post("/api/v1/me/sparks/checkout", json={"pack": "small"})
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "payments_off"
        hook = await post_event(http, b"{}", "t=1,v1=00")
        assert hook.status_code == 503


async def test_checkout_then_the_signed_webhook_credits_the_pack_once(
    user_client: httpx.AsyncClient, stripe_api: StripeStandIn
) -> None:
    checkout = await user_client.post("/api/v1/me/sparks/checkout", json={"pack": "small"})
    assert checkout.status_code == 200, checkout.text
    assert checkout.json()["url"].startswith(f"{stripe_api.base_url}/pay/")
    me = await user_id(runtime_of(user_client))
    payload = event("checkout.session.completed", pack_session(me, payment="pi_api"))
    first = await post_event(user_client, payload, sign(payload))
    assert first.status_code == 200, first.text
    assert first.json() == {"received": True, "duplicate": False}
    assert await wallet(user_client) == 500
    again = await post_event(user_client, payload, sign(payload))
    assert again.json() == {"received": True, "duplicate": True}
    assert await wallet(user_client) == 500


async def test_a_forged_or_tampered_webhook_is_a_400_and_changes_nothing(
    user_client: httpx.AsyncClient,
) -> None:
    me = await user_id(runtime_of(user_client))
    payload = event("checkout.session.completed", pack_session(me, payment="pi_forged"))
    tampered = payload.replace(b'"sparks":"500"', b'"sparks":"90000"')
    assert tampered != payload
    for body, signature in (
        (tampered, sign(payload)),
        (payload, sign(payload, secret="whsec_someone_else")),
        (payload, "garbage"),
    ):
        response = await post_event(user_client, body, signature)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["message"]
    missing = await user_client.post(WEBHOOK, content=payload)
    assert missing.status_code == 400
    assert await wallet(user_client) == 0


async def test_unknown_pack_and_bad_bodies_are_clear_4xx(user_client: httpx.AsyncClient) -> None:
    cases: list[dict[str, Any]] = [{"pack": "nope"}, {}, {"pack": "small", "plan": "plus"}]
    for body in cases:
        response = await user_client.post("/api/v1/me/sparks/checkout", json=body)
        assert 400 <= response.status_code < 500, (body, response.text)
        assert response.json()["error"]["message"]


async def test_the_price_list_lists_packs_and_plans_in_exact_money(
    tmp_path: Path, llm_base_url: str, stripe_api: StripeStandIn
) -> None:
    packs = [
        {"key": "small", "name": "500 Sparks", "sparks": 500, "amount_cents": 299},
        # 1.005 and 0.125 cents a Spark: half-up gives 1.01 and 0.13, where a float or
        # banker's rounding would give 1.00 and 0.12.
        {"key": "odd", "name": "Odd pack", "sparks": 1000, "amount_cents": 1005},
        {"key": "eighth", "name": "Eighth", "sparks": 1000, "amount_cents": 125},
    ]
    plans = [
        {
            "key": "plus",
            "name": "Afterdark Plus",
            "monthly_sparks": 3000,
            "amount_cents": 999,
            "unlocks": ["premium_images", "voice", "explicit"],
        },
        {"key": "supporter", "name": "Supporter", "monthly_sparks": 0, "amount_cents": 500},
    ]
    payments = {
        "stripe_secret_key": API_KEY,
        "stripe_webhook_secret": WEBHOOK_SECRET,
        "api_base": stripe_api.base_url,
        "currency": "usd",
        "packs": packs,
        "plans": plans,
    }
    app = create_app(make_settings(tmp_path, llm_base_url, payments=payments))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        response = await http.get("/api/v1/pricing")  # public: no login
    assert response.status_code == 200, response.text
    prices = response.json()
    assert prices["payments"] is True
    assert prices["payments_note"].startswith("Payments go through Stripe")
    assert prices["payments_currency"] == "USD"
    money = [
        (p["key"], p["sparks"], p["price"], p["price_money"], p["per_spark_cents"])
        + (p["price_unit_money"],)
        for p in prices["packs"]
    ]
    assert money == [
        ("small", 500, "2.99", "2.99 USD", "0.60", "0.60 USD"),
        ("odd", 1000, "10.05", "10.05 USD", "1.01", "1.01 USD"),
        ("eighth", 1000, "1.25", "1.25 USD", "0.13", "0.13 USD"),
    ]
    assert prices["packs"][0] | {"name": "500 Sparks", "amount_cents": 299} == prices["packs"][0]
    plus, supporter = prices["plans"]
    assert plus == {
        "key": "plus",
        "name": "Afterdark Plus",
        "monthly_sparks": 3000,
        "amount_cents": 999,
        "price": "9.99",
        "price_money": "9.99 USD",
        "per_spark_cents": "0.33",
        "price_unit_money": "0.33 USD",
        "unlocks": [
            {"key": "premium_images", "what": "The premium image model"},
            {"key": "voice", "what": "Voice"},
            {"key": "explicit", "what": "Explicit content (for verified adults who turn it on)"},
        ],
    }
    assert (supporter["price"], supporter["per_spark_cents"], supporter["unlocks"]) == (
        "5.00",
        None,
        [],
    )
    assert supporter["price_unit_money"] is None


async def statement(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.get("/api/v1/me/sparks")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_plan_shows_in_the_statement_and_cancels_in_one_click(
    user_client: httpx.AsyncClient, stripe_api: StripeStandIn
) -> None:
    before = await statement(user_client)
    assert (before["plan"], before["billing"]) == (None, False)
    me = await user_id(runtime_of(user_client))
    meta = {"user_id": str(me), "kind": "plan", "item": "plus", "sparks": "3000"}
    completed = {
        "id": "cs_api_plan",
        "object": "checkout.session",
        "mode": "subscription",
        "payment_status": "paid",
        "status": "complete",
        "client_reference_id": str(me),
        "customer": "cus_api_plan",
        "subscription": "sub_api",
        "metadata": meta,
    }
    sub = {"id": "sub_api", "object": "subscription", "customer": "cus_api_plan"}
    sub |= {"metadata": meta, "status": "active", "cancel_at_period_end": False}
    sub |= {"current_period_end": 1798761600}  # 2027-01-01T00:00:00Z
    for payload in (
        event("checkout.session.completed", completed, created=1000),
        event("customer.subscription.updated", sub, created=1001),
    ):
        response = await post_event(user_client, payload, sign(payload))
        assert response.json() == {"received": True, "duplicate": False}, response.text
    plus = {
        "key": "plus",
        "name": "Afterdark Plus",
        "status": "active",
        "active": True,
        "cancel_at_period_end": False,
        "current_period_end": "2027-01-01T00:00:00Z",
        "unlocks": [
            {"key": "premium_images", "what": "The premium image model"},
            {"key": "voice", "what": "Voice"},
            {"key": "explicit", "what": "Explicit content (for verified adults who turn it on)"},
        ],
    }
    now = await statement(user_client)
    assert (now["plan"], now["billing"]) == (plus, True)
    # A second plan while this one is on is refused; nothing is sent to Stripe.
    again = await user_client.post("/api/v1/me/sparks/checkout", json={"plan": "plus"})
    assert again.status_code == 409, again.text
    assert stripe_api.calls("/v1/checkout/sessions") == []

    # Cancel in one click: Stripe is told to end it at the period end; its event records it.
    stripe_api.add_subscription("sub_api", "cus_api_plan")
    cancelled = await user_client.post("/api/v1/me/sparks/plan/cancel")
    assert cancelled.status_code == 204, cancelled.text
    [update] = stripe_api.calls("/v1/subscriptions/sub_api")
    assert update["form"] == {"cancel_at_period_end": "true"}
    ending = event(
        "customer.subscription.updated", sub | {"cancel_at_period_end": True}, created=1002
    )
    await post_event(user_client, ending, sign(ending))
    after = (await statement(user_client))["plan"]
    assert after == plus | {"cancel_at_period_end": True}  # still on until the period end

    portal = await user_client.post("/api/v1/me/sparks/portal")
    assert portal.status_code == 200, portal.text
    assert portal.json()["url"].startswith(f"{stripe_api.base_url}/portal/")
    [portal_call] = stripe_api.calls("/v1/billing_portal/sessions")
    assert portal_call["form"]["customer"] == "cus_api_plan"

    # The period ends: the plan is gone; an older event arriving late changes nothing.
    deleted = event("customer.subscription.deleted", sub | {"status": "canceled"}, created=1003)
    await post_event(user_client, deleted, sign(deleted))
    late = event("customer.subscription.updated", sub, created=1001)
    await post_event(user_client, late, sign(late))
    gone = await statement(user_client)
    assert (gone["plan"], gone["billing"]) == (None, True)
    refused = await user_client.post("/api/v1/me/sparks/plan/cancel")
    assert refused.status_code == 404
    assert refused.json()["error"]["message"] == "You have no plan to cancel."
