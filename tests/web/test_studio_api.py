"""The characters API beyond the basics: import, export, versions, duplicate, preview, avatar."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from afterdark.characters.cards import read_card_file
from tests.support.shared import CARDS
from tests.web.chat_helpers import events_of


@pytest.fixture
def llm_base_url(standin: Any) -> str:
    return str(standin.base_url)


DRAFT = {
    "name": "Juno Vale",
    "age": 29,
    "style": "realistic",
    "tagline": "A botanist",
    "description": "{{char}} tends a glasshouse of rare ferns.",
    "speaking_style": "Latin plant names, quiet enthusiasm.",
    "first_message": "Mind the ferns, {{user}}.",
    "example_dialogue": (
        "<START>\n{{user}}: What is this one?\n{{char}}: Osmunda regalis. Royal fern."
    ),
    "tags": ["cosy", "Plants"],
}


def upload(*paths: Path) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in paths]


async def test_import_several_files_reports_each(user_client: httpx.AsyncClient) -> None:
    files = upload(CARDS / "st_default_Seraphina.png", CARDS / "card-architect_test-card_v3.json")
    files.append(("files", ("broken.png", b"\x89PNG\r\n\x1a\n\x00\x00", "image/png")))
    response = await user_client.post("/api/v1/characters/import", files=files)
    assert response.status_code == 200, response.text
    results = response.json()
    assert [r["filename"] for r in results] == [
        "st_default_Seraphina.png",
        "card-architect_test-card_v3.json",
        "broken.png",
    ]
    assert results[0]["character"]["name"] == "Seraphina"
    assert results[0]["character"]["source"] == "png/v2"
    assert results[1]["character"]["source"] == "json/v3"
    assert results[2]["character"] is None
    assert "PNG" in results[2]["error"]
    mine = (await user_client.get("/api/v1/characters?mine=true")).json()
    assert sorted(c["name"] for c in mine) == sorted(r["character"]["name"] for r in results[:2])


async def test_export_download_matches_the_import(user_client: httpx.AsyncClient) -> None:
    path = CARDS / "st_default_Seraphina.png"
    cid = (await user_client.post("/api/v1/characters/import", files=upload(path))).json()[0][
        "character"
    ]["id"]
    png = await user_client.get(f"/api/v1/characters/{cid}/export?format=png")
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    assert "Seraphina.png" in png.headers["content-disposition"]
    assert png.content == path.read_bytes()
    v3 = await user_client.get(f"/api/v1/characters/{cid}/export?format=json&spec=v3")
    assert json.loads(v3.content)["spec"] == "chara_card_v3"
    bad = await user_client.get(f"/api/v1/characters/{cid}/export?format=charx&spec=v2")
    assert bad.status_code == 422
    assert "V3" in bad.json()["error"]["message"]
    wrong = await user_client.get(f"/api/v1/characters/{cid}/export?format=gif")
    assert wrong.status_code == 422


async def test_builtin_characters_export_with_their_portrait(
    user_client: httpx.AsyncClient,
) -> None:
    mara = (await user_client.get("/api/v1/characters?q=lighthouse")).json()[0]
    png = await user_client.get(f"/api/v1/characters/{mara['id']}/export?format=png")
    card = read_card_file(png.content, "mara.png")
    assert card.card.spec == "v3"
    assert card.card.data["data"]["extensions"]["afterdark"]["age"] == mara["age"]
    assert Image.open(io.BytesIO(png.content)).size == (512, 512)


async def test_versions_restore_and_duplicate(user_client: httpx.AsyncClient) -> None:
    made = (await user_client.post("/api/v1/characters", json=DRAFT)).json()
    cid = made["id"]
    assert made["version"] == 1
    same = await user_client.patch(f"/api/v1/characters/{cid}", json={"tagline": "A botanist"})
    assert same.json()["version"] == 1  # nothing changed, no new version
    edited = await user_client.patch(
        f"/api/v1/characters/{cid}", json={"tagline": "Keeper of ferns", "note": "new tagline"}
    )
    assert edited.json()["version"] == 2
    history = (await user_client.get(f"/api/v1/characters/{cid}/versions")).json()
    assert [(v["number"], v["note"]) for v in history] == [(2, "new tagline"), (1, "Created")]
    restored = await user_client.post(f"/api/v1/characters/{cid}/versions/1/restore")
    assert restored.json()["tagline"] == "A botanist"
    assert restored.json()["version"] == 3
    missing = await user_client.post(f"/api/v1/characters/{cid}/versions/9/restore")
    assert missing.status_code == 404

    builtin = (await user_client.get("/api/v1/characters?q=lighthouse")).json()[0]
    copy = await user_client.post(f"/api/v1/characters/{builtin['id']}/duplicate")
    assert copy.status_code == 201
    assert copy.json()["is_own"] is True
    assert copy.json()["name"] == "Mara Quill (copy)"
    assert copy.json()["first_message"]
    patched = await user_client.patch(
        f"/api/v1/characters/{copy.json()['id']}", json={"name": "Mara, my way"}
    )
    assert patched.status_code == 200


async def test_studio_validation_messages(user_client: httpx.AsyncClient) -> None:
    cid = (await user_client.post("/api/v1/characters", json=DRAFT)).json()["id"]
    bad_book = await user_client.patch(
        f"/api/v1/characters/{cid}",
        json={"book": {"entries": [{"keys": "fern", "content": "x", "enabled": True}]}},
    )
    assert bad_book.status_code == 422
    assert "Lorebook entry 1" in bad_book.json()["error"]["message"]
    minor_text = await user_client.patch(
        f"/api/v1/characters/{cid}", json={"backstory": "{{char}} is a 16-year-old runaway."}
    )
    assert minor_text.status_code == 422
    assert minor_text.json()["error"]["code"] == "underage_character"
    style = await user_client.patch(f"/api/v1/characters/{cid}", json={"style": "cartoon"})
    assert style.status_code == 422


async def test_imported_card_without_age_needs_one_before_saving(
    user_client: httpx.AsyncClient,
) -> None:
    result = (
        await user_client.post(
            "/api/v1/characters/import", files=upload(CARDS / "st_default_FluxTheCat.png")
        )
    ).json()[0]
    character = result["character"]
    assert character["age"] is None
    response = await user_client.patch(
        f"/api/v1/characters/{character['id']}", json={"tagline": "A cat"}
    )
    assert response.status_code == 422
    assert "age" in response.json()["error"]["message"]
    response = await user_client.patch(
        f"/api/v1/characters/{character['id']}", json={"tagline": "A cat", "age": 21}
    )
    assert response.status_code == 200


async def test_prompt_preview_counts_tokens(user_client: httpx.AsyncClient) -> None:
    response = await user_client.post("/api/v1/characters/preview", json=DRAFT)
    assert response.status_code == 200, response.text
    preview = response.json()
    system = preview["messages"][0]
    assert system["role"] == "system"
    assert "glasshouse of rare ferns" in system["content"]
    assert "How Juno Vale speaks: Latin plant names" in system["content"]
    assert "Osmunda regalis" in system["content"]
    assert system["tokens"] > 10
    assert preview["total_tokens"] == sum(m["tokens"] for m in preview["messages"])
    assert preview["context_size"] > 0
    empty = (await user_client.post("/api/v1/characters/preview", json={"name": "X"})).json()
    assert any("greeting" in w for w in empty["warnings"])


async def test_avatar_upload_and_catalogue_filters(user_client: httpx.AsyncClient) -> None:
    cid = (await user_client.post("/api/v1/characters", json=DRAFT)).json()["id"]
    generated = await user_client.get(f"/api/v1/characters/{cid}/avatar")
    assert generated.headers["content-type"] == "image/png"
    out = io.BytesIO()
    Image.new("RGB", (900, 600), (30, 90, 60)).save(out, "JPEG")
    put = await user_client.put(
        f"/api/v1/characters/{cid}/avatar",
        files={"image": ("me.jpg", out.getvalue(), "image/jpeg")},
    )
    assert put.status_code == 200, put.text
    picture = await user_client.get(put.json()["avatar_url"])
    assert picture.headers["content-type"] == "image/webp"
    assert max(Image.open(io.BytesIO(picture.content)).size) == 384
    junk = await user_client.put(
        f"/api/v1/characters/{cid}/avatar", files={"image": ("x.png", b"nope", "image/png")}
    )
    assert junk.status_code == 422

    anime = (await user_client.get("/api/v1/characters?style=anime")).json()
    assert anime
    assert all(c["style"] == "anime" for c in anime)
    tags = (await user_client.get("/api/v1/characters/tags")).json()
    assert {"tag": "plants", "count": 1} in tags
    plants = (await user_client.get("/api/v1/characters?tag=plants")).json()
    assert [c["id"] for c in plants] == [cid]


async def test_import_needs_files_and_a_login(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/characters/import", files=upload(CARDS / "st_default_Seraphina.png")
    )
    assert response.status_code == 401


async def test_lorebook_import_and_export(user_client: httpx.AsyncClient) -> None:
    world = CARDS / "st_Eldoria_world_info.json"
    cid = (await user_client.post("/api/v1/characters", json=DRAFT)).json()["id"]
    empty = await user_client.get(f"/api/v1/characters/{cid}/lorebook")
    assert empty.status_code == 404
    put = await user_client.put(
        f"/api/v1/characters/{cid}/lorebook",
        files={"file": (world.name, world.read_bytes(), "application/json")},
    )
    assert put.status_code == 200, put.text
    book = put.json()["book"]
    original = json.loads(world.read_text(encoding="utf-8"))
    assert len(book["entries"]) == len(original["entries"])
    assert put.json()["version"] == 2
    # Back out as SillyTavern world info: the same entries, field for field.
    st = await user_client.get(f"/api/v1/characters/{cid}/lorebook?format=sillytavern")
    assert json.loads(st.content)["entries"] == original["entries"]
    v3 = json.loads((await user_client.get(f"/api/v1/characters/{cid}/lorebook")).content)
    assert v3["spec"] == "lorebook_v3"
    # Appending keeps what was there; a card is not a lorebook.
    again = await user_client.put(
        f"/api/v1/characters/{cid}/lorebook",
        files={"file": (world.name, world.read_bytes(), "application/json")},
    )
    assert len(again.json()["book"]["entries"]) == 2 * len(original["entries"])
    card = CARDS / "card-architect_test-card_v3.json"
    wrong = await user_client.put(
        f"/api/v1/characters/{cid}/lorebook",
        files={"file": (card.name, card.read_bytes(), "application/json")},
    )
    assert wrong.status_code == 422
    assert "not a lorebook" in wrong.json()["error"]["message"]


BOOK = {
    "entries": [
        {
            "keys": [],
            "content": "@@depth 2\nThe glasshouse is always warm.",
            "constant": True,
            "enabled": True,
            "insertion_order": 5,
            "position": "after_char",
        },
        {
            "keys": ["fern"],
            "content": "Ferns are her favourite.",
            "enabled": True,
            "insertion_order": 1,
        },
        {
            "keys": [],
            "content": "Switched off.",
            "constant": True,
            "enabled": False,
            "insertion_order": 0,
        },
    ]
}


async def test_preview_shows_lore_where_it_goes_and_warns_about_age(
    user_client: httpx.AsyncClient,
) -> None:
    preview = (
        await user_client.post("/api/v1/characters/preview", json={**DRAFT, "book": BOOK})
    ).json()
    system = preview["messages"][0]["content"]
    # @@depth 2 places the constant entry two messages from the end of the chat.
    assert [(m["role"], m["content"]) for m in preview["messages"][1:2]] == [
        ("system", "The glasshouse is always warm.")
    ]
    assert "@@depth" not in json.dumps(preview)
    assert "Switched off." not in system
    assert "Ferns are her favourite." not in system
    assert any("1 lorebook entries wait for their keys" in w for w in preview["warnings"])
    young = (
        await user_client.post(
            "/api/v1/characters/preview", json={**DRAFT, "age": 25, "backstory": "She is 15."}
        )
    ).json()
    assert any(w.startswith("This will not save") for w in young["warnings"])


async def test_chat_needs_an_age_and_uses_the_lorebook(
    user_client: httpx.AsyncClient, standin: Any
) -> None:
    flux = (
        await user_client.post(
            "/api/v1/characters/import", files=upload(CARDS / "st_default_FluxTheCat.png")
        )
    ).json()[0]["character"]
    refused = await user_client.post("/api/v1/conversations", json={"character_id": flux["id"]})
    assert refused.status_code == 422
    assert "states no age" in refused.json()["error"]["message"]

    cid = (await user_client.post("/api/v1/characters", json={**DRAFT, "book": BOOK})).json()["id"]
    conversation = (
        await user_client.post("/api/v1/conversations", json={"character_id": cid})
    ).json()

    async def prompt_for(text: str) -> list[dict[str, str]]:
        standin.requests.clear()
        standin.reply = "Welcome in."
        sent = await user_client.post(
            f"/api/v1/conversations/{conversation['id']}/messages", json={"content": text}
        )
        assert sent.status_code in (200, 201), sent.text
        await events_of(user_client, sent.json()["generation_id"])
        return list(standin.requests[-1]["messages"])

    first = await prompt_for("Hello")
    # The constant entry goes two messages from the end; the keyed one waits for "fern".
    assert first[-3] == {"role": "system", "content": "The glasshouse is always warm."}
    assert "Ferns are her favourite." not in json.dumps(first)
    assert "Switched off." not in json.dumps(first)
    second = await prompt_for("Which fern is that?")
    assert "Ferns are her favourite." in second[0]["content"]


async def test_download_names_keep_any_script(user_client: httpx.AsyncClient) -> None:
    cid = (
        await user_client.post("/api/v1/characters", json={**DRAFT, "name": "Zoë Ōkawa/千尋"})
    ).json()["id"]
    response = await user_client.get(f"/api/v1/characters/{cid}/export?format=json")
    disposition = response.headers["content-disposition"]
    assert 'filename="Zoe_Okawa_.json"' in disposition
    assert "filename*=UTF-8''Zo%C3%AB_%C5%8Ckawa_%E5%8D%83%E5%B0%8B.json" in disposition


async def test_validation_errors_list_each_field(user_client: httpx.AsyncClient) -> None:
    response = await user_client.post(
        "/api/v1/characters", json={**DRAFT, "age": "old", "tagline": "x" * 301}
    )
    assert response.status_code == 422
    fields = {f["field"] for f in response.json()["error"]["fields"]}
    assert fields == {"age", "tagline"}


async def test_export_everything_as_one_zip(user_client: httpx.AsyncClient) -> None:
    import zipfile

    cid = (await user_client.post("/api/v1/characters", json=DRAFT)).json()["id"]
    response = await user_client.get("/api/v1/me/export")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert "afterdark-export-" in response.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        manifest = json.loads(archive.read("afterdark-export.json"))
        card = read_card_file(archive.read(f"characters/{cid}.json"), "x.json")
    assert manifest["account"]["email"] == "ada@example.com"
    assert [c["id"] for c in manifest["characters"]] == [cid]
    assert card.card.data["data"]["name"] == "Juno Vale"
