"""Deleting an account deletes its customer at Stripe (the stand-in), after the account's
own deletion has committed: with Stripe unreachable the account is still deleted and the
customer's deletion waits, recorded, until the payments sweep gets it done; a customer
Stripe no longer knows counts as deleted; and Stripe's events about the deleted account's
plan are recorded as ignored."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from afterdark.app import create_app
from afterdark.config import Settings
from afterdark.credits.payments import customers
from afterdark.credits.payments.models import StripeCustomer, StripeEvent
from afterdark.runtime import Runtime, apply_waiting_payments
from tests.conftest import PASSWORD, free_port, make_settings, signup
from tests.credits.test_reply_charges import runtime_of, user_id
from tests.support.stripe_standin import (
    API_KEY,
    WEBHOOK_SECRET,
    StripeStandIn,
    event,
    serve_stripe,
    sign,
)


def paid_settings(tmp_path: Path, api_base: str) -> Settings:
    return make_settings(
        tmp_path,
        "http://127.0.0.1:9/v1",
        payments={
            "stripe_secret_key": API_KEY,
            "stripe_webhook_secret": WEBHOOK_SECRET,
            "api_base": api_base,
        },
    )


@pytest.fixture
async def stripe_api() -> AsyncIterator[StripeStandIn]:
    async with serve_stripe() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, stripe_api: StripeStandIn) -> Settings:
    return paid_settings(tmp_path, stripe_api.base_url)


async def link_customer(runtime: Runtime, user: int, customer_id: str) -> None:
    """The user's Stripe customer, as checkout or a webhook records it."""
    async with runtime.database.session() as session:
        session.add(StripeCustomer(user_id=user, customer_id=customer_id))
        await session.commit()


async def delete_me(http: httpx.AsyncClient) -> None:
    gone = await http.request("DELETE", "/api/v1/me", json={"password": PASSWORD})
    assert gone.status_code == 204, gone.text
    assert (await http.get("/api/v1/me")).status_code == 401


async def test_deleting_the_account_deletes_its_stripe_customer(
    user_client: httpx.AsyncClient, stripe_api: StripeStandIn
) -> None:
    # Checkout makes the user's customer at Stripe (and records it here).
    checkout = await user_client.post("/api/v1/me/sparks/checkout", json={"plan": "plus"})
    assert checkout.status_code == 200, checkout.text
    assert [call["method"] for call in stripe_api.calls("/v1/customers")] == ["POST"]
    customer_id = next(o["id"] for o in stripe_api.objects.values() if o["object"] == "customer")
    stripe_api.add_subscription("sub_leaving", customer_id)
    runtime = runtime_of(user_client)

    await delete_me(user_client)
    [deleted] = stripe_api.calls(f"/v1/customers/{customer_id}")
    assert deleted["method"] == "DELETE"
    assert deleted["headers"]["Authorization"] == f"Bearer {API_KEY}"
    assert stripe_api.objects[customer_id] == {
        "id": customer_id,
        "object": "customer",
        "deleted": True,
    }
    assert stripe_api.objects["sub_leaving"]["status"] == "canceled"  # Stripe's doing
    assert await customers.pending(runtime.database) == []


async def test_an_account_without_a_customer_asks_nothing_of_stripe(
    user_client: httpx.AsyncClient, stripe_api: StripeStandIn
) -> None:
    await delete_me(user_client)
    assert stripe_api.requests == []


async def test_with_stripe_unreachable_the_account_goes_and_the_customer_follows_later(
    tmp_path: Path,
) -> None:
    port = free_port()  # nothing listens there yet: Stripe is unreachable
    settings = paid_settings(tmp_path, f"http://127.0.0.1:{port}")
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        await signup(http)
        runtime = runtime_of(http)
        await link_customer(runtime, await user_id(runtime), "cus_waiting")

        await delete_me(http)  # the account is deleted all the same
        [waiting] = await customers.pending(runtime.database)
        assert (waiting.customer_id, waiting.attempts) == ("cus_waiting", 1)
        assert waiting.last_attempt_at is not None
        assert waiting.last_error
        async with runtime.database.session() as session:
            assert list(await session.scalars(select(StripeCustomer))) == []
        # Still unreachable: the sweep keeps it and counts the try.
        assert await customers.delete_pending(runtime.database, settings.payments) == 0
        [waiting] = await customers.pending(runtime.database)
        assert waiting.attempts == 2

        # Stripe is back: the payments sweep (at start and every 5 minutes) gets it done.
        standin = StripeStandIn()
        standin.add_customer("cus_waiting")
        async with serve_stripe(standin, port=port):
            sweep = asyncio.create_task(
                apply_waiting_payments(runtime.database, settings.payments, every=0.05)
            )
            try:
                for _ in range(200):
                    if not await customers.pending(runtime.database):
                        break
                    await asyncio.sleep(0.05)
            finally:
                sweep.cancel()
                await asyncio.gather(sweep, return_exceptions=True)
        assert await customers.pending(runtime.database) == []
        [deleted] = standin.calls("/v1/customers/cus_waiting")
        assert deleted["method"] == "DELETE"
        assert standin.objects["cus_waiting"]["deleted"] is True


async def test_a_customer_stripe_no_longer_knows_counts_as_deleted(
    user_client: httpx.AsyncClient, stripe_api: StripeStandIn
) -> None:
    runtime = runtime_of(user_client)
    await link_customer(runtime, await user_id(runtime), "cus_gone_already")
    await delete_me(user_client)
    [call] = stripe_api.calls("/v1/customers/cus_gone_already")
    assert call["method"] == "DELETE"
    assert await customers.pending(runtime.database) == []


async def test_the_stand_in_answers_a_second_delete_as_stripe_does(
    stripe_api: StripeStandIn,
) -> None:
    stripe_api.add_customer("cus_twice")
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(base_url=stripe_api.base_url, headers=headers) as http:
        first = await http.delete("/v1/customers/cus_twice")
        assert first.json() == {"id": "cus_twice", "object": "customer", "deleted": True}
        again = await http.delete("/v1/customers/cus_twice")
        assert again.status_code == 404
        assert again.json()["error"] | {"message": ""} == {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "param": "id",
            "message": "",
        }
        assert again.json()["error"]["message"] == "No such customer: 'cus_twice'"
        # A deleted customer is still readable, as the deleted object.
        read = await http.get("/v1/customers/cus_twice")
        assert read.json()["deleted"] is True


async def test_stripes_events_about_a_deleted_account_are_recorded_as_ignored(
    user_client: httpx.AsyncClient, stripe_api: StripeStandIn
) -> None:
    runtime = runtime_of(user_client)
    me = await user_id(runtime)
    await link_customer(runtime, me, "cus_leaving")
    await delete_me(user_client)

    # Deleting the customer cancelled its plan: Stripe says so, naming our user id.
    meta = {"user_id": str(me), "kind": "plan", "item": "plus", "sparks": "3000"}
    sub = {"id": "sub_leaving", "object": "subscription", "customer": "cus_leaving"}
    sub |= {"status": "canceled", "metadata": meta}
    payload = event("customer.subscription.deleted", sub)
    answer = await user_client.post(
        "/api/v1/payments/stripe/webhook",
        content=payload,
        headers={"stripe-signature": sign(payload), "content-type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    async with runtime.database.session() as session:
        [recorded] = list(await session.scalars(select(StripeEvent)))
        assert recorded.processed_at is not None
        assert recorded.outcome == f"ignored: user {me} no longer exists (account deleted)"
        assert list(await session.scalars(select(StripeCustomer))) == []


async def test_the_command_line_deletion_deletes_the_customer_too(
    settings: Settings, stripe_api: StripeStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from afterdark.cli import app as cli

    application = create_app(settings)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://test"
        ) as http,
    ):
        await signup(http)
        runtime = runtime_of(http)
        await link_customer(runtime, await user_id(runtime), "cus_cli")
    stripe_api.add_customer("cus_cli")
    monkeypatch.setenv("AFTERDARK_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("AFTERDARK_PAYMENTS__STRIPE_SECRET_KEY", API_KEY)
    monkeypatch.setenv("AFTERDARK_PAYMENTS__STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("AFTERDARK_PAYMENTS__API_BASE", stripe_api.base_url)
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["users", "delete", "ada@example.com", "--yes"]
    )
    assert result.exit_code == 0, result.output
    assert "deleted ada@example.com" in result.output
    assert "not deleted at Stripe yet" not in result.output
    assert stripe_api.objects["cus_cli"]["deleted"] is True
