"""Age assurance: a verifier's signed answer is recorded once; forgeries, stale and replayed
answers are refused; self-declaration only on a single-user install."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from afterdark.config import Settings
from afterdark.safety.age import signature
from tests.conftest import make_settings, signup

SECRET = "verifier-shared-secret"


def signed(
    state: str, result: str = "passed", ts: int | None = None, **extra: str
) -> dict[str, str]:
    params = {
        "state": state,
        "result": result,
        "method": "document",
        "jurisdiction": "GB",
        "ts": str(ts if ts is not None else int(time.time())),
        **extra,
    }
    params["sig"] = signature(SECRET, params)
    return params


class TestSigned:
    @pytest.fixture
    def settings(self, tmp_path: Path, llm_base_url: str) -> Settings:
        return make_settings(
            tmp_path,
            llm_base_url,
            age={
                "provider": "signed",
                "signed_url": "https://verify.example/start",
                "signed_secret": SECRET,
            },
        )

    async def start(self, client: httpx.AsyncClient) -> str:
        started = await client.post("/api/v1/age/start")
        assert started.status_code == 200, started.text
        url = urlsplit(started.json()["redirect_url"])
        assert f"{url.scheme}://{url.netloc}{url.path}" == "https://verify.example/start"
        query = parse_qs(url.query)
        assert query["return_to"] == ["http://test/api/v1/age/callback"]
        return query["state"][0]

    async def test_a_signed_pass_is_recorded_once(self, user_client: httpx.AsyncClient) -> None:
        status = (await user_client.get("/api/v1/age")).json()
        assert (status["provider"], status["verified"]) == ("signed", False)
        state = await self.start(user_client)
        answer = signed(state)
        back = await user_client.get("/api/v1/age/callback", params=answer)
        assert back.status_code == 303
        assert back.headers["location"].endswith("/settings?age=passed#age")
        status = (await user_client.get("/api/v1/age")).json()
        assert status["verified"] is True
        assert (status["method"], status["jurisdiction"]) == ("document", "GB")
        replay = await user_client.get("/api/v1/age/callback", params=answer)
        assert replay.status_code == 422
        assert "already used" in replay.json()["error"]["message"]

    async def test_forged_stale_and_failed_answers(self, user_client: httpx.AsyncClient) -> None:
        state = await self.start(user_client)
        forged = {**signed(state), "result": "passed", "sig": "0" * 64}
        assert (await user_client.get("/api/v1/age/callback", params=forged)).status_code == 422
        tampered = {**signed(state, result="failed"), "result": "passed"}
        refused = await user_client.get("/api/v1/age/callback", params=tampered)
        assert "not signed" in refused.json()["error"]["message"]
        stale = signed(state, ts=int(time.time()) - 3600)
        assert (
            "too old"
            in (await user_client.get("/api/v1/age/callback", params=stale)).json()["error"][
                "message"
            ]
        )
        failed = await user_client.get("/api/v1/age/callback", params=signed(state, "failed"))
        assert failed.headers["location"].endswith("/settings?age=failed#age")
        assert (await user_client.get("/api/v1/age")).json()["verified"] is False


class TestSelfDeclaration:
    @pytest.fixture
    def settings(self, tmp_path: Path, llm_base_url: str) -> Settings:
        return make_settings(tmp_path, llm_base_url, age={"provider": "self_declaration"})

    async def test_only_on_a_single_user_install(self, client: httpx.AsyncClient) -> None:
        await signup(client)
        done = await client.post("/api/v1/age/start")
        assert done.status_code == 200
        assert done.json()["redirect_url"].endswith("/settings#age")
        status = (await client.get("/api/v1/age")).json()
        assert (status["verified"], status["method"]) == (True, "self_declaration")
        other = httpx.AsyncClient(transport=client._transport, base_url="http://test")
        async with other:
            await signup(other, email="eve@example.com")
            refused = await other.post("/api/v1/age/start")
            assert refused.status_code == 403
            assert "single-user" in refused.json()["error"]["message"]


async def test_no_provider_keeps_adult_content_locked(user_client: httpx.AsyncClient) -> None:
    response = await user_client.post("/api/v1/age/start")
    assert response.status_code == 403
    assert "stays locked" in response.json()["error"]["message"]
    assert (await user_client.get("/api/v1/age")).json()["verified"] is False
    callback = await user_client.get("/api/v1/age/callback", params=signed("x"))
    assert callback.status_code == 422


def test_signature_covers_every_field() -> None:
    base = signed("s")
    for field in ("state", "result", "method", "jurisdiction", "ts"):
        assert signature(SECRET, {**base, field: base[field] + "x"}) != base["sig"]
