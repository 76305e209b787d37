"""Explicit content as a plan unlock: where payments are on and a plan that includes
``explicit`` is on sale, a verified adult who turned it on still needs that plan for
explicit characters, replies and pictures; with the plan they have them; while no such plan
is on sale (payments off, or no plan lists it) the age check and the switch decide alone.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from afterdark.app import create_app
from afterdark.config import Settings
from afterdark.images import nsfw
from afterdark.images.base import Rendered, RenderRequest
from afterdark.safety import content
from tests.conftest import make_settings, signup
from tests.credits.test_reply_charges import runtime_of, user_id
from tests.safety.test_content import SECRET, add_explicit_builtin, verify
from tests.support.photos import photos
from tests.support.stripe_standin import (
    API_KEY,
    WEBHOOK_SECRET,
    StripeStandIn,
    event,
    serve_stripe,
    sign,
)
from tests.web.chat_helpers import events_of

WEBHOOK = "/api/v1/payments/stripe/webhook"
AFTER_DARK = {
    "key": "after-dark",
    "name": "After Dark",
    "monthly_sparks": 0,
    "amount_cents": 500,
    "unlocks": ["explicit"],
}
SUPPORTER = {"key": "supporter", "name": "Supporter", "monthly_sparks": 0, "amount_cents": 300}


class PhotoBackend:
    """Renders a real photo; whether it counts as explicit is the test's to say."""

    name = "photos"
    identity = "test"

    async def render(self, request: RenderRequest, progress: Any = None) -> Rendered:
        return Rendered((photos() / "obama.jpg").read_bytes(), "image/jpeg", request.seed)

    async def interrupt(self) -> None:
        pass

    async def close(self) -> None:
        pass


@pytest.fixture
async def stripe_api() -> AsyncIterator[StripeStandIn]:
    async with serve_stripe() as server:
        yield server


def paid_settings(
    tmp_path: Path, llm_url: str, stripe_api: StripeStandIn, plans: list[dict[str, Any]]
) -> Settings:
    return make_settings(
        tmp_path,
        llm_url,
        age={
            "provider": "signed",
            "signed_url": "https://verify.example/",
            "signed_secret": SECRET,
        },
        payments={
            "stripe_secret_key": API_KEY,
            "stripe_webhook_secret": WEBHOOK_SECRET,
            "api_base": stripe_api.base_url,
            "plans": plans,
        },
    )


@pytest.fixture
def settings(tmp_path: Path, standin: Any, stripe_api: StripeStandIn) -> Settings:
    return paid_settings(tmp_path, standin.base_url, stripe_api, [AFTER_DARK, SUPPORTER])


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings, image_backend=PhotoBackend())
    async with application.router.lifespan_context(application):
        yield application


async def post_event(http: httpx.AsyncClient, kind: str, obj: dict[str, Any], at: int) -> None:
    payload = event(kind, obj, created=at)
    response = await http.post(
        WEBHOOK,
        content=payload,
        headers={"stripe-signature": sign(payload), "content-type": "application/json"},
    )
    assert response.json() == {"received": True, "duplicate": False}, response.text


def subscription(user: int, plan: str) -> dict[str, Any]:
    meta = {"user_id": str(user), "kind": "plan", "item": plan, "sparks": "0"}
    return {
        "id": f"sub_{user}",
        "object": "subscription",
        "customer": f"cus_{user}",
        "status": "active",
        "cancel_at_period_end": False,
        "metadata": meta,
    }


async def subscribe(http: httpx.AsyncClient, plan: str = "after-dark") -> None:
    """The plan starts, as Stripe's events report it."""
    me = await user_id(runtime_of(http))
    sub = subscription(me, plan)
    completed = {
        "id": f"cs_{me}",
        "object": "checkout.session",
        "mode": "subscription",
        "status": "complete",
        "payment_status": "paid",
        "client_reference_id": str(me),
        "customer": sub["customer"],
        "subscription": sub["id"],
        "metadata": sub["metadata"],
    }
    await post_event(http, "checkout.session.completed", completed, 1000)
    await post_event(http, "customer.subscription.updated", sub, 1001)


async def end_plan(http: httpx.AsyncClient, plan: str = "after-dark") -> None:
    sub = subscription(await user_id(runtime_of(http)), plan) | {"status": "canceled"}
    await post_event(http, "customer.subscription.deleted", sub, 1002)


async def content_status(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.get("/api/v1/me/content")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def picture(http: httpx.AsyncClient, app: Any, character_id: int) -> dict[str, Any]:
    asked = await http.post(f"/api/v1/characters/{character_id}/pictures", json={})
    assert asked.status_code == 202, asked.text
    await app.state.runtime.pictures.jobs.drain()
    return dict((await http.get(f"/api/v1/pictures/{asked.json()['id']}")).json())


async def own_character(http: httpx.AsyncClient) -> int:
    made = await http.post(
        "/api/v1/characters",
        json={"name": "Noor", "age": 31, "rating": "mature", "first_message": "Hello."},
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


async def test_a_verified_adult_without_the_plan_gets_no_explicit_content(
    app: Any, client: httpx.AsyncClient, standin: Any, monkeypatch: Any
) -> None:
    cid = await add_explicit_builtin(app)
    await signup(client)
    await verify(client)
    assert await content_status(client) == {
        "explicit": False,
        "age_verified": True,
        "plan_needed": True,
    }

    # Turning it on is refused with a 402 that names the plan it comes with.
    refused = await client.put("/api/v1/me/content", json={"explicit": True})
    assert refused.status_code == 402, refused.text
    assert refused.json()["error"]["code"] == "payment_required"
    message = refused.json()["error"]["message"]
    assert "comes with a plan" in message
    assert "After Dark" in message
    assert "Supporter" not in message
    assert (await content_status(client))["explicit"] is False

    async def reachable() -> list[int]:
        return [
            (await client.get(f"/api/v1/characters/{cid}")).status_code,
            (await client.get(f"/api/v1/characters/{cid}/export?format=json")).status_code,
            (await client.get(f"/api/v1/characters/{cid}/avatar")).status_code,
            (await client.post("/api/v1/conversations", json={"character_id": cid})).status_code,
            (await client.post(f"/api/v1/characters/{cid}/pictures", json={})).status_code,
        ]

    assert cid not in [c["id"] for c in (await client.get("/api/v1/characters")).json()]
    # Not opted in (it could not be turned on): the age-check answer, as before.
    assert await reachable() == [403] * 5

    # With the plan, it turns on and everything explicit is within reach.
    await subscribe(client)
    assert await content_status(client) == {
        "explicit": False,
        "age_verified": True,
        "plan_needed": False,
    }
    turned_on = await client.put("/api/v1/me/content", json={"explicit": True})
    assert turned_on.status_code == 200, turned_on.text
    assert turned_on.json() == {"explicit": True, "age_verified": True, "plan_needed": False}
    assert cid in [c["id"] for c in (await client.get("/api/v1/characters")).json()]
    conversation = await client.post("/api/v1/conversations", json={"character_id": cid})
    assert conversation.status_code == 201, conversation.text
    conversation_id = conversation.json()["id"]
    standin.requests.clear()
    turn = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages", json={"content": "Good evening."}
    )
    assert turn.status_code == 201, turn.text
    await events_of(client, turn.json()["generation_id"])
    [request] = standin.requests
    explicit_rules = content.policy("explicit", adult=True).replace("{{user}}", "ada")
    assert request["messages"][0]["content"].endswith(explicit_rules)
    noor = await own_character(client)

    async def explicit_render(image: bytes, threshold: float) -> nsfw.NsfwResult:
        return nsfw.NsfwResult(detections=(), explicit=True)

    monkeypatch.setattr(nsfw, "classify_async", explicit_render)
    kept = await picture(client, app, noor)
    assert (kept["status"], kept["explicit"]) == ("done", True)

    # The plan ends: the switch stays as the user left it, but nothing explicit reaches them.
    await end_plan(client)
    assert await content_status(client) == {
        "explicit": False,
        "age_verified": True,
        "plan_needed": True,
    }
    assert cid not in [c["id"] for c in (await client.get("/api/v1/characters")).json()]
    codes = await reachable()
    assert codes == [402] * 5
    gated = await client.get(f"/api/v1/characters/{cid}")
    assert "rated explicit" in gated.json()["error"]["message"]
    assert "comes with a plan" in gated.json()["error"]["message"]
    assert (await client.get(f"/api/v1/conversations/{conversation_id}")).status_code == 402
    standin.requests.clear()
    more = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages", json={"content": "Still there?"}
    )
    assert more.status_code == 402, more.text
    assert standin.requests == []
    withheld = await picture(client, app, noor)
    assert withheld["status"] == "withheld"
    assert withheld["url"] is None
    own = await client.post(
        "/api/v1/characters", json={"name": "Mine", "age": 30, "rating": "explicit"}
    )
    assert own.status_code == 402
    restricted = {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {"name": "Card", "tags": ["NSFW"]},
    }
    imported = await client.post(
        "/api/v1/characters/import",
        files=[("files", ("c.json", json.dumps(restricted).encode(), "application/json"))],
    )
    assert imported.json()[0]["character"] is None
    assert "comes with a plan" in imported.json()[0]["error"]
    # The Studio preview shows the rules the user's chats would get: the mature ones.
    preview = await client.post(
        "/api/v1/characters/preview", json={"name": "Draft", "rating": "explicit"}
    )
    assert preview.status_code == 200, preview.text
    mature_rules = content.policy("mature", adult=False).replace("{{user}}", "")
    assert preview.json()["messages"][0]["content"].endswith(mature_rules)
    # Turning it off needs no plan; deleting one's own conversation is never gated.
    off = await client.put("/api/v1/me/content", json={"explicit": False})
    assert off.json() == {"explicit": False, "age_verified": True, "plan_needed": True}
    assert (await client.delete(f"/api/v1/conversations/{conversation_id}")).status_code == 204


async def test_no_plan_needed_where_no_plan_on_sale_includes_it(
    tmp_path: Path, standin: Any, stripe_api: StripeStandIn
) -> None:
    """Payments on, but the only plan does not offer explicit content: as with payments off."""
    settings = paid_settings(tmp_path, standin.base_url, stripe_api, [SUPPORTER])
    application = create_app(settings, image_backend=PhotoBackend())
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://test"
        ) as http,
    ):
        cid = await add_explicit_builtin(application)
        await signup(http)
        await verify(http)
        assert (await content_status(http))["plan_needed"] is False
        turned_on = await http.put("/api/v1/me/content", json={"explicit": True})
        assert turned_on.json() == {"explicit": True, "age_verified": True, "plan_needed": False}
        assert (await http.get(f"/api/v1/characters/{cid}")).status_code == 200
        conversation = await http.post("/api/v1/conversations", json={"character_id": cid})
        assert conversation.status_code == 201
    assert stripe_api.requests == []
