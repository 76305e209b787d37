"""Import then export through the service and the database: the card comes back equal."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from afterdark.accounts.models import User
from afterdark.characters import exporter, importer, versions
from afterdark.characters import service as characters_service
from afterdark.characters.ages import UnderageCharacterError
from afterdark.characters.cards import CardError, read_card_file, write_png
from afterdark.characters.models import Character
from afterdark.characters.schemas import CharacterCreate, CharacterUpdate
from afterdark.store.engine import Database
from afterdark.store.files import FileStore
from tests.support.shared import CARDS

pytestmark = pytest.mark.xdist_group("postgres")

REAL_CARDS = sorted(
    p for p in CARDS.iterdir() if p.suffix in {".png", ".json"} and "world" not in p.name
)


def ordered(value: Any) -> Any:
    """JSON with key order made significant for comparison."""
    if isinstance(value, dict):
        return [(k, ordered(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [ordered(v) for v in value]
    return value


def small_png(colour: tuple[int, int, int] = (200, 120, 80)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(out, "PNG")
    return out.getvalue()


def charx_with_assets() -> bytes:
    card = json.loads((CARDS / "card-architect_test-card_v3.json").read_text(encoding="utf-8"))
    card["data"]["assets"] = [
        {
            "type": "icon",
            "uri": "embeded://assets/icon/images/main.png",
            "name": "main",
            "ext": "png",
        },
        {
            "type": "x_theme",
            "uri": "embeded://assets/other/audio/theme.ogg",
            "name": "theme",
            "ext": "ogg",
        },
    ]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("card.json", json.dumps(card, ensure_ascii=False, indent=1))
        archive.writestr("assets/icon/images/main.png", small_png())
        archive.writestr("assets/other/audio/theme.ogg", b"OggS" + bytes(range(256)) * 8)
        archive.writestr("x_meta/app.json", '{"editor": "test"}')
    return out.getvalue()


async def import_bytes(
    db: Database, files: FileStore, owner: User | None, data: bytes, name: str
) -> int:
    async with db.session() as session:
        character = await importer.import_card(session, files, owner, data, name)
        await session.commit()
        return character.id


async def export(
    db: Database, files: FileStore, cid: int, container: str, spec: str | None = None
) -> bytes:
    async with db.session() as session:
        character = await characters_service.get_any_character(session, cid)
        exported = await exporter.export_character(session, files, character, container, spec)  # type: ignore[arg-type]
        return exported.data


async def edit(db: Database, owner: User, cid: int, **changes: Any) -> None:
    async with db.session() as session:
        await characters_service.update_character(session, owner, cid, CharacterUpdate(**changes))
        await session.commit()


@pytest.mark.parametrize("path", REAL_CARDS, ids=lambda p: p.name)
async def test_every_real_card_exports_as_it_came(
    db: Database, files: FileStore, owner: User, path: Path
) -> None:
    data = path.read_bytes()
    original = read_card_file(data, path.name)
    cid = await import_bytes(db, files, owner, data, path.name)
    out = await export(db, files, cid, original.container)
    again = read_card_file(out, path.name)
    assert ordered(again.card.data) == ordered(original.card.data)
    assert again.card.spec == original.card.spec
    # Unedited, the very file comes back.
    assert out == data


@pytest.mark.parametrize("path", REAL_CARDS, ids=lambda p: p.name)
async def test_an_edit_changes_only_that_field(
    db: Database, files: FileStore, owner: User, path: Path
) -> None:
    data = path.read_bytes()
    original = read_card_file(data, path.name)
    cid = await import_bytes(db, files, owner, data, path.name)
    await edit(db, owner, cid, age=30, scenario="A rainy evening at the harbour.")
    again = read_card_file(await export(db, files, cid, original.container), path.name)
    before, after = original.card.data, again.card.data
    if original.card.spec == "v1":
        assert after == {**before, "scenario": "A rainy evening at the harbour."}
        return
    assert after["data"]["scenario"] == "A rainy evening at the harbour."
    assert after["data"]["extensions"]["afterdark"]["age"] == 30
    # The hybrid root copy follows; nothing else moves.
    if "scenario" in before:
        assert after["scenario"] == "A rainy evening at the harbour."
    strip = {"scenario", "modification_date", "extensions"}
    assert ordered({k: v for k, v in after["data"].items() if k not in strip}) == ordered(
        {k: v for k, v in before["data"].items() if k not in strip}
    )
    extensions = dict(after["data"]["extensions"])
    extensions.pop("afterdark")
    assert extensions == before["data"]["extensions"]
    assert [k for k in after if k not in ("data", "scenario")] == [
        k for k in before if k not in ("data", "scenario")
    ]


async def test_charx_with_assets_round_trips(db: Database, files: FileStore, owner: User) -> None:
    data = charx_with_assets()
    cid = await import_bytes(db, files, owner, data, "test.charx")
    out = await export(db, files, cid, "charx")
    with zipfile.ZipFile(io.BytesIO(data)) as a, zipfile.ZipFile(io.BytesIO(out)) as b:
        assert json.loads(a.read("card.json")) == json.loads(b.read("card.json"))
        assert a.read("card.json") == b.read("card.json")
        for name in a.namelist():
            assert a.read(name) == b.read(name), name
        assert sorted(a.namelist()) == sorted(b.namelist())
    async with db.session() as session:
        character = await characters_service.get_any_character(session, cid)
        paths = [a.path for a in await characters_service.assets_of(session, character)]
    assert "assets/other/audio/theme.ogg" in paths
    assert "" in paths  # the thumbnail made from the main icon


async def test_png_with_both_chunks_prefers_ccv3_and_keeps_both(
    db: Database, files: FileStore, owner: User
) -> None:
    v3 = (CARDS / "card-architect_test-card_v3.json").read_text(encoding="utf-8")
    v2 = json.dumps({"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "Old name"}})
    data = write_png(small_png(), chara=v2, ccv3=v3)
    cid = await import_bytes(db, files, owner, data, "both.png")
    async with db.session() as session:
        character = await characters_service.get_any_character(session, cid)
        assert character.name == json.loads(v3)["data"]["name"]
        assert character.card_spec == "v3"
    assert await export(db, files, cid, "png") == data
    # Edited: both chunks are written again, the V2 one as the spec's backfill.
    await edit(db, owner, cid, age=33)
    out = read_card_file(await export(db, files, cid, "png"), "x.png")
    assert out.card.spec == "v3"
    from afterdark.characters.cards import read_png

    chunks = read_png(await export(db, files, cid, "png"))
    assert chunks.chara is not None
    assert chunks.ccv3 is not None
    assert json.loads(chunks.chara)["spec"] == "chara_card_v2"


async def test_bare_v1_json(db: Database, files: FileStore, owner: User) -> None:
    card = {
        "name": "Tamsin Reed",
        "description": "{{char}} is a 41-year-old ferry captain.\r\nShe hums sea shanties.",
        "personality": "gruff, kind",
        "scenario": "",
        "first_mes": "Tickets, please.",
        "mes_example": "<START>\n{{user}}: Hi\n{{char}}: Tickets.",
    }
    data = json.dumps(card, indent=4).encode()
    cid = await import_bytes(db, files, owner, data, "tamsin.json")
    async with db.session() as session:
        character = await characters_service.get_any_character(session, cid)
        assert character.age == 41
        assert character.card_spec == "v1"
    assert await export(db, files, cid, "json") == data
    v2 = json.loads(await export(db, files, cid, "json", "v2"))
    assert v2["spec"] == "chara_card_v2"
    assert v2["data"]["description"] == card["description"]
    assert v2["data"]["first_mes"] == "Tickets, please."


async def test_v3_exported_as_v2_strips_decorators(
    db: Database, files: FileStore, owner: User
) -> None:
    card = json.loads((CARDS / "card-architect_test-card_v3.json").read_text(encoding="utf-8"))
    entry = card["data"]["character_book"]["entries"][0]
    entry["content"] = "@@depth 4\n@@role system\n" + entry["content"]
    cid = await import_bytes(db, files, owner, json.dumps(card).encode(), "deco.json")
    v3 = json.loads(await export(db, files, cid, "json"))
    assert v3["data"]["character_book"]["entries"][0]["content"].startswith("@@depth 4")
    v2 = json.loads(await export(db, files, cid, "json", "v2"))
    assert v2["spec"] == "chara_card_v2"
    assert not v2["data"]["character_book"]["entries"][0]["content"].startswith("@@")
    assert "group_only_greetings" not in v2["data"]


async def test_a_card_about_a_minor_is_refused(db: Database, files: FileStore, owner: User) -> None:
    card = {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {"name": "Pip", "description": "{{char}} is a 15-year-old student."},
    }
    async with db.session() as session:
        with pytest.raises(UnderageCharacterError, match="15"):
            await importer.import_card(session, files, owner, json.dumps(card).encode(), "pip.json")
        assert not list(await session.scalars(Character.__table__.select()))


async def test_hostile_file_is_refused_and_nothing_is_stored(
    db: Database, files: FileStore, owner: User
) -> None:
    async with db.session() as session:
        outcomes = await importer.import_many(
            session, files, owner, [("a.png", b"\x89PNG\r\n\x1a\nnope"), ("b.json", b"{" * 10000)]
        )
        await session.commit()
    assert [o.character for o in outcomes] == [None, None]
    assert all(o.error for o in outcomes)
    assert not files.root.exists() or not any(files.root.rglob("*"))


async def test_studio_character_round_trips_through_our_own_card(
    db: Database, files: FileStore, owner: User
) -> None:
    create = CharacterCreate(
        name="Odile Marsh",
        age=38,
        style="realistic",
        tagline="Night-shift radio host",
        description="{{char}} hosts a late-night call-in show.",
        appearance="Silver-streaked bob, headphones around her neck.",
        backstory="Left a newspaper job to talk to strangers at 3 am.",
        personality="Warm, wry, unhurried.",
        speaking_style="Low voice, long pauses, radio sign-offs.",
        first_message="You're on the air. Take your time.",
        tags=["realistic", "radio"],
        book={
            "entries": [
                {
                    "keys": ["studio"],
                    "content": "The studio smells of coffee.",
                    "enabled": True,
                    "insertion_order": 10,
                    "x_custom": 1,
                }
            ]
        },
    )
    async with db.session() as session:
        made = await characters_service.create_character(session, owner, create)
        await session.commit()
    for container, spec in [("json", "v3"), ("json", "v2"), ("png", "v3"), ("charx", "v3")]:
        data = await export(db, files, made.id, container, spec)
        imported = read_card_file(data, f"x.{container}")
        body = imported.card.data["data"]
        assert "Appearance: Silver-streaked" in body["description"]  # other apps see it all
        cid = await import_bytes(db, files, owner, data, f"x.{container}")
        async with db.session() as session:
            back = await characters_service.get_any_character(session, cid)
            fields, want = versions.fields_of(back), versions.fields_of(made)
        assert fields["appearance"] == want["appearance"]
        assert fields["speaking_style"] == want["speaking_style"]
        assert fields["description"] == want["description"]
        assert fields["age"] == 38
        assert fields["book"]["entries"][0]["x_custom"] == 1


async def test_charx_needs_v3(db: Database, files: FileStore, owner: User) -> None:
    cid = await import_bytes(
        db, files, owner, (CARDS / "st_default_Seraphina.png").read_bytes(), "s.png"
    )
    with pytest.raises(Exception, match="V3"):
        await export(db, files, cid, "charx", "v2")
    data = await export(db, files, cid, "charx", "v3")
    assert read_card_file(data, "s.charx").card.spec == "v3"


async def test_delete_removes_files_after_commit(
    db: Database, files: FileStore, owner: User
) -> None:
    cid = await import_bytes(db, files, owner, charx_with_assets(), "a.charx")
    stored = list(files.root.rglob("*"))
    assert any(p.is_file() for p in stored)
    async with db.session() as session:
        await characters_service.delete_character(session, files, owner, cid)
        assert any(p.is_file() for p in files.root.rglob("*"))  # not before the commit
        await session.commit()
    assert not any(p.is_file() for p in files.root.rglob("*"))


async def test_duplicate_copies_files_and_card(db: Database, files: FileStore, owner: User) -> None:
    data = (CARDS / "choral_Default-chan_v3.png").read_bytes()
    cid = await import_bytes(db, files, owner, data, "c.png")
    async with db.session() as session:
        copy = await characters_service.duplicate_character(session, files, owner, cid)
        await session.commit()
    assert copy.name.endswith("(copy)")
    out = read_card_file(await export(db, files, copy.id, "png"), "c.png")
    assert out.card.data["data"]["name"].endswith("(copy)")
    assert (
        out.card.data["data"]["alternate_greetings"]
        == read_card_file(data, "c.png").card.data["data"]["alternate_greetings"]
    )


def test_card_errors_are_user_errors() -> None:
    with pytest.raises(CardError):
        read_card_file(b"GIF89a", "x.gif")
