from __future__ import annotations

import httpx

from tests.conftest import signup

OWN = {
    "name": "Juno Vale",
    "age": 29,
    "tagline": "A botanist",
    "description": "{{char}} tends a greenhouse.",
    "first_message": "Mind the ferns.",
    "alternate_greetings": ["Oh, hello."],
    "tags": ["cosy"],
}


async def test_catalogue_lists_seed_characters(user_client: httpx.AsyncClient) -> None:
    rows = (await user_client.get("/api/v1/characters")).json()
    assert len(rows) >= 24
    assert all(r["is_builtin"] for r in rows)
    one = (await user_client.get(f"/api/v1/characters/{rows[0]['id']}")).json()
    assert one["age"] >= 18
    assert one["first_message"]


async def test_search_and_tag_filter(user_client: httpx.AsyncClient) -> None:
    assert [
        r["name"] for r in (await user_client.get("/api/v1/characters?q=lighthouse")).json()
    ] == ["Mara Quill"]
    tagged = (await user_client.get("/api/v1/characters?tag=anime")).json()
    assert "Ren Aoyama" in [r["name"] for r in tagged]
    assert "Mara Quill" not in [r["name"] for r in tagged]
    assert all("anime" in r["tags"] for r in tagged)


async def test_create_edit_delete_own_character(user_client: httpx.AsyncClient) -> None:
    created = await user_client.post("/api/v1/characters", json=OWN)
    assert created.status_code == 201
    cid = created.json()["id"]
    assert created.json()["is_own"] is True
    patched = await user_client.patch(f"/api/v1/characters/{cid}", json={"tagline": "Botanist."})
    assert patched.json()["tagline"] == "Botanist."
    assert (await user_client.delete(f"/api/v1/characters/{cid}")).status_code == 204
    assert (await user_client.get(f"/api/v1/characters/{cid}")).status_code == 404


async def test_minor_characters_are_refused(user_client: httpx.AsyncClient) -> None:
    response = await user_client.post("/api/v1/characters", json={**OWN, "age": 16})
    assert response.status_code == 422
    assert "must be an adult" in response.json()["error"]["message"]
    cid = (await user_client.post("/api/v1/characters", json=OWN)).json()["id"]
    response = await user_client.patch(f"/api/v1/characters/{cid}", json={"age": 17})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "underage_character"


async def test_builtin_characters_are_read_only(user_client: httpx.AsyncClient) -> None:
    builtin = (await user_client.get("/api/v1/characters")).json()[0]["id"]
    response = await user_client.patch(f"/api/v1/characters/{builtin}", json={"name": "X"})
    assert response.status_code == 403


async def test_other_users_characters_are_invisible(client: httpx.AsyncClient) -> None:
    await signup(client)
    cid = (await client.post("/api/v1/characters", json=OWN)).json()["id"]
    other = httpx.AsyncClient(transport=client._transport, base_url="http://test")
    async with other:
        await signup(other, email="eve@example.com")
        assert (await other.get(f"/api/v1/characters/{cid}")).status_code == 404
        assert cid not in [c["id"] for c in (await other.get("/api/v1/characters")).json()]
        assert (await other.delete(f"/api/v1/characters/{cid}")).status_code == 404
