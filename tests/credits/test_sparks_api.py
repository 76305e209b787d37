"""Sparks over the API: the user's statement and lines, the public price list, and an
admin's view, grants and revokes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from afterdark.app import create_app
from afterdark.config import Settings
from tests.conftest import make_settings, signup
from tests.web.chat_helpers import events_of, start_conversation

SPARKS = {
    "enabled": True,
    "daily_allowance": 40,
    "daily_cap": 40,
    "reply_tokens_per_spark": 10,
    "spark_price_cents": 0.5,
    "currency": "EUR",
}


@pytest.fixture
def settings(tmp_path: Path, standin: Any) -> Settings:
    return make_settings(tmp_path, str(standin.base_url), sparks=SPARKS)


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> httpx.AsyncClient:
    await signup(client, email="admin@example.com")  # the first account is the admin
    return client


@pytest.fixture
async def member(admin: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=admin._transport, base_url="http://test") as http:
        await signup(http, email="bea@example.com")
        yield http


async def user_id(http: httpx.AsyncClient) -> int:
    return int((await http.get("/api/v1/me")).json()["id"])


async def adjust(admin: httpx.AsyncClient, whom: int, **body: Any) -> httpx.Response:
    return await admin.post(f"/api/v1/admin/users/{whom}/sparks", json=body)


async def test_a_statement_shows_the_allowance_a_grant_and_a_charged_reply(
    admin: httpx.AsyncClient, member: httpx.AsyncClient, standin: Any
) -> None:
    first = await member.get("/api/v1/me/sparks")
    assert first.status_code == 200, first.text
    body = first.json()
    assert {k: v for k, v in body.items() if k != "today"} == {
        "enabled": True,
        "available": 40,
        "free": 40,
        "wallet": 0,
        "held": 0,
        "daily_allowance": 40,
        "daily_cap": 40,
        "plan": None,  # no plan, and no Stripe customer: no billing portal
        "billing": False,
    }
    granted = await adjust(
        admin, await user_id(member), action="grant", amount=25, reason="Welcome"
    )
    assert granted.status_code == 200, granted.text
    assert (granted.json()["available"], granted.json()["wallet"]) == (65, 25)

    standin.reply = None
    standin.tokens = 25  # 25 tokens at 10 per Spark: 3 Sparks
    conversation = await start_conversation(member)
    sent = await member.post(
        f"/api/v1/conversations/{conversation['id']}/messages", json={"content": "Hello"}
    )
    assert sent.status_code == 201, sent.text
    assert (await events_of(member, sent.json()["generation_id"]))[-1]["data"]["status"] == (
        "complete"
    )

    after = (await member.get("/api/v1/me/sparks")).json()
    assert (after["available"], after["free"], after["wallet"], after["held"]) == (62, 37, 25, 0)
    lines = (await member.get("/api/v1/me/sparks/transactions")).json()
    assert [(x["kind"], x["sparks"], x["status"]) for x in lines] == [
        ("spend", -3, "charged"),
        ("grant", 25, "posted"),
        ("daily", 40, "posted"),
    ]
    reply, grant, _ = lines
    assert reply["action"] == "chat.reply"
    assert reply["ref"] == f"generation:{sent.json()['generation_id']}"
    assert reply["what"].startswith("A chat reply")
    assert (grant["note"], grant["what"]) == ("Welcome", "Sparks granted by an admin")

    paged = (await member.get("/api/v1/me/sparks/transactions?limit=1&offset=1")).json()
    assert [x["op"] for x in paged] == [grant["op"]]
    for bad in ("limit=0", "limit=201", "offset=-1"):
        refused = await member.get(f"/api/v1/me/sparks/transactions?{bad}")
        assert refused.status_code == 422, bad
        assert refused.json()["error"]["message"].startswith(bad.split("=")[0]), bad


async def test_the_price_list_is_public_and_in_plain_figures(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/pricing")
    assert response.status_code == 200, response.text
    prices = response.json()
    line, picture, speech, transcription = prices["lines"]
    assert (speech["action"], transcription["action"]) == ("voice.speech", "voice.transcription")
    assert (line["action"], line["sparks"]) == (
        "chat.reply",
        "1 Spark per 10 tokens written (at least 1)",
    )
    assert "a 250-token reply (about 190 words) costs 25 Sparks" in line["example"]
    assert picture["action"] == "image.picture"
    assert picture["sparks"].startswith("20 Sparks a picture; nothing when it fails")
    assert picture["example"] == "one picture costs 20 Sparks (0.10 EUR)"
    assert (prices["price_unit"], prices["price_unit_money"]) == (100, "0.50 EUR")
    assert (prices["daily_allowance"], prices["daily_cap"], prices["enabled"]) == (40, 40, True)
    # Payments are off (no Stripe keys): nothing is on sale, and the page says so plainly.
    assert prices["payments"] is False
    assert prices["payments_note"].startswith("Payments are not set up")
    assert (prices["packs"], prices["plans"], prices["payments_currency"]) == ([], [], "EUR")
    assert (await client.get("/pricing")).status_code == 200
    assert (await client.get("/api/v1/me/sparks")).status_code == 401


async def test_an_admin_grants_and_revokes_with_a_reason(
    admin: httpx.AsyncClient, member: httpx.AsyncClient
) -> None:
    whom = await user_id(member)
    url = f"/api/v1/admin/users/{whom}/sparks"
    looked = (await admin.get(url)).json()
    # An admin's look gives no allowance: only the user's own first use of the day does.
    assert (looked["user_id"], looked["statement"]["available"], looked["lines"]) == (whom, 0, [])
    await member.get("/api/v1/me/sparks")

    taken = await adjust(admin, whom, action="revoke", amount=10, reason="  A correction  ")
    assert taken.status_code == 200, taken.text
    assert taken.json()["available"] == 30
    seen = (await admin.get(url)).json()
    assert seen["statement"]["available"] == 30
    assert [(x["kind"], x["sparks"], x["status"]) for x in seen["lines"]] == [
        ("revoke", -10, "posted"),
        ("daily", 40, "posted"),
    ]
    assert seen["lines"][0]["note"] == "A correction"

    too_many = await adjust(admin, whom, action="revoke", amount=31, reason="Everything")
    assert too_many.status_code == 402
    assert too_many.json()["error"]["code"] == "payment_required"
    assert "needs 31 and you have 30" in too_many.json()["error"]["message"]
    assert (await admin.get(url)).json() == seen


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "grant", "amount": 0, "reason": "x"}, "amount"),
        ({"action": "grant", "amount": 10**12 + 1, "reason": "x"}, "amount"),
        ({"action": "grant", "amount": 5, "reason": ""}, "reason"),
        ({"action": "grant", "amount": 5, "reason": "   "}, "reason"),
        ({"action": "grant", "amount": 5, "reason": "two\nlines"}, "reason"),
        ({"action": "grant", "amount": 5, "reason": "x" * 301}, "reason"),
        ({"action": "mint", "amount": 5, "reason": "x"}, "action"),
        ({"action": "grant", "amount": 5, "reason": "x", "bucket": "free"}, "bucket"),
    ],
)
async def test_a_bad_adjustment_is_refused_with_a_message_and_changes_nothing(
    admin: httpx.AsyncClient, member: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    whom = await user_id(member)
    refused = await adjust(admin, whom, **body)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["message"].startswith(f"{field}: "), error
    assert (await admin.get(f"/api/v1/admin/users/{whom}/sparks")).json()["lines"] == []


async def test_only_admins_see_or_change_an_account_and_only_real_ones(
    admin: httpx.AsyncClient, member: httpx.AsyncClient
) -> None:
    peek = await member.get(f"/api/v1/admin/users/{await user_id(admin)}/sparks")
    assert peek.status_code == 403
    forbidden = await adjust(member, await user_id(member), action="grant", amount=9, reason="me")
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["message"] == "This needs an admin account."
    assert (await member.get("/api/v1/me/sparks")).json()["wallet"] == 0
    assert (await admin.get("/api/v1/admin/users/999999/sparks")).status_code == 404
    missing = await adjust(admin, 999999, action="grant", amount=9, reason="nobody")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "User 999999 does not exist."


async def test_with_sparks_off_a_look_gives_nothing(tmp_path: Path, standin: Any) -> None:
    off = make_settings(tmp_path, str(standin.base_url))
    application = create_app(off)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            await signup(http)
            mine = (await http.get("/api/v1/me/sparks")).json()
            assert (mine["enabled"], mine["available"]) == (False, 0)
            assert (await http.get("/api/v1/me/sparks/transactions")).json() == []
            assert (await http.get("/api/v1/pricing")).json()["enabled"] is False
