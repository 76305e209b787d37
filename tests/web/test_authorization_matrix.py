"""Every endpoint in the OpenAPI document, called by another user with the owner's ids.

The matrix is built from ``/openapi.json``, so a new route is covered the day it lands: each
path parameter gets the id of something the owner made, each body its required fields. The
other user must get 403 or 404 (or 405/422 where the request cannot apply), never the owner's
text, and the owner's data must be unchanged afterwards.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import select

from afterdark.accounts.models import User
from afterdark.images.models import Picture
from tests.conftest import signup
from tests.support.shared import CARDS
from tests.web.chat_helpers import events_of, start_conversation

SECRET = "Vermilion-otter-4471"
REFUSED = {403, 404}
NOT_APPLICABLE = {405, 422}


@pytest.fixture
def llm_base_url(standin: Any) -> str:
    return str(standin.base_url)


def _example(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    if "anyOf" in schema:
        schema = next((s for s in schema["anyOf"] if s.get("type") != "null"), schema["anyOf"][0])
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {
            name: _example(schema["properties"][name], components)
            for name in schema.get("required", [])
        }
    return {"string": "intruder", "integer": 1, "number": 1, "boolean": False, "array": []}.get(
        kind or "string", "intruder"
    )


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(out, "PNG")
    return out.getvalue()


def _request(operation: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    content = operation.get("requestBody", {}).get("content", {})
    if "multipart/form-data" in content:
        ref = content["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[-1]
        fields = components[ref]["properties"]
        return {"files": [(name, ("x.png", _png(), "image/png")) for name in fields]}
    if "application/json" in content:
        return {"json": _example(content["application/json"]["schema"], components)}
    return {}


async def _picture(app: Any, character_id: int) -> int:
    """A finished picture of the owner's (pictures are off here, so it is written directly)."""
    runtime = app.state.runtime
    async with runtime.database.session() as session:
        owner = await session.scalar(select(User).where(User.email == "ada@example.com"))
        assert owner is not None
        picture = Picture(
            user_id=owner.id,
            character_id=character_id,
            status="done",
            backend="comfyui",
            seed=1,
            width=8,
            height=8,
            media_type="image/png",
            file_key=await runtime.files.save(session, _png(), owner=owner.id),
        )
        picture.request = picture.prompt = SECRET
        session.add(picture)
        await session.commit()
        return picture.id


async def test_no_endpoint_lets_another_user_near_the_owners_things(
    client: httpx.AsyncClient, standin: Any, app: Any
) -> None:
    await signup(client)
    made = await client.post(
        "/api/v1/characters",
        json={
            "name": "Private Person",
            "age": 30,
            "description": SECRET,
            "book": {"entries": [{"keys": ["k"], "content": SECRET, "enabled": True}]},
        },
    )
    character_id = made.json()["id"]
    imported = await client.post(
        "/api/v1/characters/import",
        files=[("files", ("c.png", (CARDS / "choral_Default-chan_v3.png").read_bytes(), "x"))],
    )
    assert imported.json()[0]["character"], imported.text
    conversation = await start_conversation(client, name="Private Person")
    standin.reply = f"Reply about {SECRET}."
    turn = (
        await client.post(
            f"/api/v1/conversations/{conversation['id']}/messages", json={"content": SECRET}
        )
    ).json()
    await events_of(client, turn["generation_id"])
    token_id = (await client.post("/api/v1/tokens", json={"name": "mine"})).json()["id"]
    world = json.dumps({"entries": {"0": {"uid": 0, "key": ["k"], "content": SECRET}}})
    book_id = (
        await client.post(
            "/api/v1/worldbooks", files={"file": ("w.json", world.encode(), "application/json")}
        )
    ).json()["id"]
    memory_id = (
        await client.post(
            f"/api/v1/characters/{character_id}/memories", json={"text": SECRET, "pinned": True}
        )
    ).json()["id"]
    picture_id = await _picture(app, character_id)
    ids = {
        "picture_id": picture_id,
        "memory_id": memory_id,
        "book_id": book_id,
        "character_id": character_id,
        "conversation_id": conversation["id"],
        "message_id": turn["user_message"]["id"],
        "generation_id": turn["generation_id"],
        "token_id": token_id,
        "session_id": (await client.get("/api/v1/sessions")).json()[0]["id"],
        "user_id": (await client.get("/api/v1/me")).json()["id"],
        "number": 1,
    }
    before = {
        "character": (await client.get(f"/api/v1/characters/{character_id}")).json(),
        "conversation": (await client.get(f"/api/v1/conversations/{conversation['id']}")).json(),
        "versions": (await client.get(f"/api/v1/characters/{character_id}/versions")).json(),
        "tokens": (await client.get("/api/v1/tokens")).json(),
        "sessions": (await client.get("/api/v1/sessions")).json(),
        "worldbook": (await client.get(f"/api/v1/worldbooks/{book_id}")).json(),
        "memory": (await client.get(f"/api/v1/memories/{memory_id}")).json(),
        "picture": (await client.get(f"/api/v1/pictures/{picture_id}")).json(),
    }

    schema = (await client.get("/openapi.json")).json()
    components = schema.get("components", {}).get("schemas", {})
    other = httpx.AsyncClient(transport=client._transport, base_url="http://test")
    checked = 0
    async with other:
        await signup(other, email="eve@example.com")
        for path, operations in schema["paths"].items():
            names = re.findall(r"{(\w+)}", path)
            if not names:
                continue
            url = path.format(**{name: ids[name] for name in names})
            for method, operation in operations.items():
                response = await other.request(
                    method.upper(), url, **_request(operation, components)
                )
                where = f"{method.upper()} {url}"
                assert response.status_code in REFUSED | NOT_APPLICABLE, (where, response.text)
                assert SECRET not in response.text, where
                assert response.status_code < 500, where
                checked += 1
        # Ids in bodies are checked as well: a chat with someone else's character.
        borrowed = await other.post("/api/v1/conversations", json={"character_id": character_id})
        assert borrowed.status_code == 404
        listed = await other.get("/api/v1/characters?mine=false")
        assert SECRET not in listed.text
        assert character_id not in [c["id"] for c in listed.json()]
    assert checked >= 41  # every operation that takes an id, as of this writing

    after = {
        "character": (await client.get(f"/api/v1/characters/{character_id}")).json(),
        "conversation": (await client.get(f"/api/v1/conversations/{conversation['id']}")).json(),
        "versions": (await client.get(f"/api/v1/characters/{character_id}/versions")).json(),
        "tokens": (await client.get("/api/v1/tokens")).json(),
        "sessions": (await client.get("/api/v1/sessions")).json(),
        "worldbook": (await client.get(f"/api/v1/worldbooks/{book_id}")).json(),
        "memory": (await client.get(f"/api/v1/memories/{memory_id}")).json(),
        "picture": (await client.get(f"/api/v1/pictures/{picture_id}")).json(),
    }
    assert after == before
