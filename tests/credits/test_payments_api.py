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
