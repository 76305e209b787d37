"""Rate limits on login, sign-up and replies; the list of sessions and revoking them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from afterdark.config import Settings
from tests.conftest import PASSWORD, make_settings, signup
from tests.web.chat_helpers import start_conversation


@pytest.fixture
def settings(tmp_path: Path, standin: Any) -> Settings:
    return make_settings(
        tmp_path,
        standin.base_url,
        security={"login_attempts": 3, "signups_per_hour": 3},
        chat={"flush_interval": 0.05, "generations_per_minute": 2},
    )


def other_client(client: httpx.AsyncClient) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=client._transport, base_url="http://test")


async def test_login_attempts_are_limited_per_account(client: httpx.AsyncClient) -> None:
    await signup(client)
    fresh = other_client(client)
    async with fresh:
        for _ in range(3):
            wrong = await fresh.post(
                "/api/v1/auth/login", json={"email": "ada@example.com", "password": "nope-nope"}
            )
            assert wrong.status_code == 401
        blocked = await fresh.post(
            "/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
        )
        assert blocked.status_code == 429
        assert blocked.json()["error"]["code"] == "rate_limited"
        assert "login attempts" in blocked.json()["error"]["message"]
        assert 0 < int(blocked.headers["retry-after"]) <= 900
        # Another account is not locked out by someone guessing this one.
        other = await fresh.post(
            "/api/v1/auth/login", json={"email": "eve@example.com", "password": "nope-nope"}
        )
        assert other.status_code == 401


async def test_signups_are_limited_per_address(client: httpx.AsyncClient) -> None:
    for n in range(3):
        fresh = other_client(client)
        async with fresh:
            await signup(fresh, email=f"u{n}@example.com")
    fresh = other_client(client)
    async with fresh:
        response = await fresh.post(
            "/api/v1/auth/signup",
            json={"email": "u9@example.com", "password": PASSWORD, "birthdate": "1990-01-01"},
        )
    assert response.status_code == 429


async def test_replies_are_limited_per_user(client: httpx.AsyncClient, standin: Any) -> None:
    await signup(client)
    conversation = await start_conversation(client)
    standin.reply = "Yes."
    url = f"/api/v1/conversations/{conversation['id']}/messages"
    first = await client.post(url, json={"content": "one"})
    assert first.status_code == 201
    regen = await client.post(f"/api/v1/messages/{first.json()['reply']['id']}/regenerate")
    assert regen.status_code in (201, 409)
    third = await client.post(url, json={"content": "three"})
    assert third.status_code == 429
    assert "replies started" in third.json()["error"]["message"]


async def test_sessions_list_and_revoke(client: httpx.AsyncClient) -> None:
    await signup(client)
    phone = other_client(client)
    async with phone:
        login = await phone.post(
            "/api/v1/auth/login",
            json={"email": "ada@example.com", "password": PASSWORD},
            headers={"User-Agent": "PhoneBrowser/1.0"},
        )
        assert login.status_code == 200
        phone.headers["X-CSRF-Token"] = phone.cookies["afterdark_csrf"]
        listed = (await client.get("/api/v1/sessions")).json()
        assert len(listed) == 2
        assert [s["current"] for s in listed].count(True) == 1
        phone_row = next(s for s in listed if s["user_agent"] == "PhoneBrowser/1.0")
        assert phone_row["current"] is False
        assert (await client.delete(f"/api/v1/sessions/{phone_row['id']}")).status_code == 204
        assert (await phone.get("/api/v1/me")).status_code == 401
        assert (await client.get("/api/v1/me")).status_code == 200
        assert (await client.delete(f"/api/v1/sessions/{phone_row['id']}")).status_code == 404

        # Another user cannot see or end these sessions.
        eve = other_client(client)
        async with eve:
            await signup(eve, email="eve@example.com")
            mine = (await client.get("/api/v1/sessions")).json()[0]["id"]
            assert (await eve.delete(f"/api/v1/sessions/{mine}")).status_code == 404
            assert mine not in [s["id"] for s in (await eve.get("/api/v1/sessions")).json()]

        again = await phone.post(
            "/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
        )
        assert again.status_code == 200
        phone.headers["X-CSRF-Token"] = phone.cookies["afterdark_csrf"]
        ended = await client.post("/api/v1/sessions/revoke-others")
        assert ended.json() == {"ended": 1}
        assert (await phone.get("/api/v1/me")).status_code == 401
        assert (await client.get("/api/v1/me")).status_code == 200


async def test_password_reset_is_single_use_and_ends_every_login(
    client: httpx.AsyncClient,
) -> None:
    await signup(client)  # the first account: the admin
    user = other_client(client)
    async with user:
        await signup(user, email="kim@example.com")
        kim = next(
            u
            for u in (await client.get("/api/v1/admin/users")).json()
            if u["email"] == "kim@example.com"
        )
        refused = await user.post(f"/api/v1/admin/users/{kim['id']}/reset-link")
        assert refused.status_code == 403
        link = await client.post(f"/api/v1/admin/users/{kim['id']}/reset-link")
        assert link.status_code == 201
        url = link.json()["url"]
        assert "/reset#token=adr_" in url
        token = url.split("#token=", 1)[1]
        # A second link replaces the first.
        newer = (await client.post(f"/api/v1/admin/users/{kim['id']}/reset-link")).json()["url"]
        token2 = newer.split("#token=", 1)[1]
        stale = await user.post("/api/v1/auth/reset", json={"token": token, "password": "x" * 12})
        assert stale.status_code == 422
        assert "not valid" in stale.json()["error"]["message"]

        device = other_client(client)
        async with device:
            done = await device.post(
                "/api/v1/auth/reset", json={"token": token2, "password": "brand new secret"}
            )
            assert done.status_code == 200
            assert done.json()["email"] == "kim@example.com"
            assert (await device.get("/api/v1/me")).status_code == 200
        assert (await user.get("/api/v1/me")).status_code == 401  # the old login ended
        again = await user.post(
            "/api/v1/auth/reset", json={"token": token2, "password": "another secret"}
        )
        assert again.status_code == 422
        old = await user.post(
            "/api/v1/auth/login", json={"email": "kim@example.com", "password": PASSWORD}
        )
        assert old.status_code == 401
        new = await user.post(
            "/api/v1/auth/login", json={"email": "kim@example.com", "password": "brand new secret"}
        )
        assert new.status_code == 200
