from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import PASSWORD, signup


async def test_signup_logs_in_and_first_user_is_admin(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    assert user["email"] == "ada@example.com"
    assert user["is_admin"] is True
    me = await client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["id"] == user["id"]
    second = httpx.AsyncClient(transport=client._transport, base_url="http://test")
    async with second:
        other = await signup(second, email="bo@example.com")
    assert other["is_admin"] is False


async def test_signup_refuses_minors_and_stores_no_birthdate(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/signup",
        json={"email": "kid@example.com", "password": PASSWORD, "birthdate": "2015-01-01"},
    )
    assert response.status_code == 403
    assert "18 or older" in response.json()["error"]["message"]
    assert "afterdark_session" not in client.cookies


async def test_signup_validation_errors_are_422_with_message(client: httpx.AsyncClient) -> None:
    cases = [
        {"email": "a@b.co", "password": "short", "birthdate": "1990-01-01"},
        {"email": "not-an-email", "password": PASSWORD, "birthdate": "1990-01-01"},
        {"email": "a@b.co", "password": PASSWORD, "birthdate": "01/02/1990"},
        {"email": "a@b.co", "password": PASSWORD},
        {"email": 5, "password": PASSWORD, "birthdate": "1990-01-01"},
    ]
    for body in cases:
        response = await client.post("/api/v1/auth/signup", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["message"]


async def test_duplicate_email_conflicts(client: httpx.AsyncClient) -> None:
    await signup(client)
    response = await client.post(
        "/api/v1/auth/signup",
        json={"email": "ADA@example.com", "password": PASSWORD, "birthdate": "1990-01-01"},
    )
    assert response.status_code == 409


async def test_login_logout_and_wrong_password(client: httpx.AsyncClient) -> None:
    await signup(client)
    assert (await client.post("/api/v1/auth/logout")).status_code == 204
    assert (await client.get("/api/v1/me")).status_code == 401
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": "ada@example.com", "password": "nope-nope"}
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"]["message"] == "Wrong email or password."
    ok = await client.post(
        "/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert ok.status_code == 200
    assert (await client.get("/api/v1/me")).status_code == 200


async def test_csrf_is_required_for_cookie_writes(client: httpx.AsyncClient) -> None:
    await signup(client)
    del client.headers["X-CSRF-Token"]
    response = await client.put("/api/v1/me/persona", json={"name": "Ada", "description": "x"})
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]
    client.headers["X-CSRF-Token"] = "forged"
    response = await client.put("/api/v1/me/persona", json={"name": "Ada", "description": "x"})
    assert response.status_code == 403


async def test_api_tokens_work_without_cookies_or_csrf(client: httpx.AsyncClient) -> None:
    await signup(client)
    created = await client.post("/api/v1/tokens", json={"name": "phone"})
    assert created.status_code == 201
    secret = created.json()["token"]
    assert secret.startswith("adk_")
    listed = await client.get("/api/v1/tokens")
    assert [t["name"] for t in listed.json()] == ["phone"]
    assert listed.json()[0]["token"] is None
    bearer = httpx.AsyncClient(
        transport=client._transport,
        base_url="http://test",
        headers={"Authorization": f"Bearer {secret}"},
    )
    async with bearer:
        assert (await bearer.get("/api/v1/me")).json()["email"] == "ada@example.com"
        persona = await bearer.put("/api/v1/me/persona", json={"name": "Ada", "description": "A"})
        assert persona.status_code == 200
        token_id = listed.json()[0]["id"]
        assert (await client.delete(f"/api/v1/tokens/{token_id}")).status_code == 204
        assert (await bearer.get("/api/v1/me")).status_code == 401


async def test_persona_round_trip(user_client: httpx.AsyncClient) -> None:
    assert (await user_client.get("/api/v1/me/persona")).json()["name"] == "ada"
    body = {"name": "Ada L.", "description": "A mathematician with a taste for poetry."}
    assert (await user_client.put("/api/v1/me/persona", json=body)).json() == body
    assert (await user_client.get("/api/v1/me/persona")).json() == body


async def test_security_headers_present(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_admin_routes_need_the_admin_role(client: httpx.AsyncClient) -> None:
    await signup(client)  # first account: admin
    assert [u["email"] for u in (await client.get("/api/v1/admin/users")).json()] == [
        "ada@example.com"
    ]
    other = httpx.AsyncClient(transport=client._transport, base_url="http://test")
    async with other:
        await signup(other, email="bo@example.com")
        denied = await other.get("/api/v1/admin/users")
        assert denied.status_code == 403
        assert "admin" in denied.json()["error"]["message"]


async def test_exhausted_connection_pool_is_a_503(client: httpx.AsyncClient, app: Any) -> None:
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    runtime = app.state.runtime

    class ExhaustedPool:
        def session(self) -> Any:
            raise PoolTimeout("QueuePool limit of size 5 overflow 10 reached")

    real = runtime.database
    runtime.database = ExhaustedPool()
    try:
        response = await client.get("/api/v1/me", headers={"Authorization": "Bearer adk_x"})
    finally:
        runtime.database = real
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "too busy" in response.json()["error"]["message"]
