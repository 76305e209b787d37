"""Explicit content is unreachable, by every endpoint, until an age check passes and the user
turns it on; users can always delete their own data."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from afterdark.characters.models import Character
from afterdark.config import Settings
from afterdark.safety.age import signature
from tests.conftest import make_settings, signup

SECRET = "verifier-shared-secret"


@pytest.fixture
def settings(tmp_path: Path, standin: Any) -> Settings:
    return make_settings(
        tmp_path,
        standin.base_url,
        age={
            "provider": "signed",
            "signed_url": "https://verify.example/",
            "signed_secret": SECRET,
        },
    )


async def add_explicit_builtin(app: Any) -> int:
    async with app.state.runtime.database.session() as session:
        character = Character(
            owner_id=None,
            slug="after-hours",
            name="After Hours",
            age=35,
            rating="explicit",
            first_message="Good evening.",
            alternate_greetings=[],
            tags=["nsfw"],
            version=1,
        )
        session.add(character)
        await session.commit()
        return character.id


async def verify(client: httpx.AsyncClient) -> None:
    started = (await client.post("/api/v1/age/start")).json()["redirect_url"]
    state = parse_qs(urlsplit(started).query)["state"][0]
    params = {"state": state, "result": "passed", "method": "document", "jurisdiction": "DE"}
    params["ts"] = str(int(time.time()))
    params["sig"] = signature(SECRET, params)
    assert (await client.get("/api/v1/age/callback", params=params)).status_code == 303


async def test_explicit_content_needs_a_check_and_an_opt_in(
    app: Any, client: httpx.AsyncClient
) -> None:
    cid = await add_explicit_builtin(app)
    await signup(client)

    async def reachable() -> list[int]:
        return [
            (await client.get(f"/api/v1/characters/{cid}")).status_code,
            (await client.get(f"/api/v1/characters/{cid}/export?format=json")).status_code,
            (await client.get(f"/api/v1/characters/{cid}/avatar")).status_code,
            (await client.post("/api/v1/conversations", json={"character_id": cid})).status_code,
        ]

    listed = [c["id"] for c in (await client.get("/api/v1/characters")).json()]
    assert cid not in listed
    assert await reachable() == [403, 403, 403, 403]
    refused = await client.put("/api/v1/me/content", json={"explicit": True})
    assert refused.status_code == 403
    assert "age check" in refused.json()["error"]["message"]
    own = await client.post(
        "/api/v1/characters", json={"name": "Mine", "age": 30, "rating": "explicit"}
    )
    assert own.status_code == 403
    nsfw = {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {"name": "Card", "tags": ["NSFW"]},
    }
    imported = await client.post(
        "/api/v1/characters/import",
        files=[("files", ("c.json", json.dumps(nsfw).encode(), "application/json"))],
    )
    assert imported.json()[0]["character"] is None
    assert "rated explicit" in imported.json()[0]["error"]

    await verify(client)
    # Payments are off here: no plan is needed for it.
    assert (await client.get("/api/v1/me/content")).json() == {
        "explicit": False,
        "age_verified": True,
        "plan_needed": False,
    }
    assert cid not in [c["id"] for c in (await client.get("/api/v1/characters")).json()]
    assert (await client.put("/api/v1/me/content", json={"explicit": True})).json()["explicit"]
    assert cid in [c["id"] for c in (await client.get("/api/v1/characters")).json()]
    codes = await reachable()
    assert codes[:3] == [200, 200, 200]
    assert codes[3] == 201
    conversation = (await client.get("/api/v1/conversations")).json()[0]["id"]
    note = await client.post(f"/api/v1/characters/{cid}/memories", json={"text": "A note."})
    assert note.status_code == 201, note.text
    memory = note.json()["id"]

    # Turned off again: out of reach at once, yet still the user's to delete.
    assert not (await client.put("/api/v1/me/content", json={"explicit": False})).json()["explicit"]
    assert (await client.get(f"/api/v1/conversations/{conversation}")).status_code == 403
    for path in (
        f"/api/v1/characters/{cid}/memories",
        f"/api/v1/characters/{cid}/memories/last-reply",
        f"/api/v1/memories/{memory}",
        f"/api/v1/memories/{memory}/sources",
    ):
        assert (await client.get(path)).status_code == 403, path
    assert (await client.delete(f"/api/v1/memories/{memory}")).status_code == 204
    assert (await client.delete(f"/api/v1/conversations/{conversation}")).status_code == 204
