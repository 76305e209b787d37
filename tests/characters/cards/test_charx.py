"""CharX: a re-packed real card with embedded assets, deterministic writing, asset lookup."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from afterdark.characters.cards import (
    CardError,
    CharxMember,
    dump_card,
    embedded_path,
    main_icon,
    read_card_file,
    read_charx,
    write_charx,
)
from tests.characters.cards.builders import luna_v3, ordered, tiny_png

ICON = "assets/icon/images/main.png"
VOICE = "assets/other/audio/greeting.ogg"


def luna_with_assets() -> dict[str, object]:
    card = luna_v3()
    card["data"]["assets"] = [
        {"type": "icon", "uri": f"embeded://{ICON}", "name": "main", "ext": "png"},
        {"type": "x_voice", "uri": f"embeded://{VOICE}", "name": "greeting", "ext": "ogg"},
        {"type": "background", "uri": "https://example.org/bg.png", "name": "main", "ext": "png"},
    ]
    return card


def members() -> list[CharxMember]:
    return [
        CharxMember(ICON, tiny_png(4, 4)),
        CharxMember(VOICE, b"OggS\0\2" + bytes(range(256)) * 4),
        CharxMember("x_app_settings.json", b'{"theme": "night"}'),
    ]


def test_charx_with_assets_round_trips() -> None:
    text = dump_card(luna_with_assets())
    archive = write_charx(text, members())
    charx = read_charx(archive)
    assert charx.card.text == text
    assert charx.card.spec == "v3"
    assert ordered(charx.card.data) == ordered(luna_with_assets())
    assert charx.members == members()
    icon = main_icon(charx)
    assert icon is not None
    assert icon.path == ICON
    assert icon.data == tiny_png(4, 4)
    paths = [embedded_path(asset["uri"]) for asset in charx.card.data["data"]["assets"]]
    assert paths == [ICON, VOICE, None]
    imported = read_card_file(archive, "luna.charx")
    assert imported.container == "charx"
    assert imported.members == members()
    assert imported.image is None


def test_writing_is_deterministic_deflated_and_card_first() -> None:
    text = dump_card(luna_with_assets())
    first = write_charx(text, members())
    assert write_charx(text, members()) == first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == ["card.json", ICON, VOICE, "x_app_settings.json"]
        assert {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert json.loads(archive.read("card.json")) == luna_with_assets()


def test_v2_card_json_is_accepted_and_v1_is_not() -> None:
    v2 = {"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "Ren"}}
    assert read_charx(write_charx(json.dumps(v2), [])).card.spec == "v2"
    with pytest.raises(CardError, match="V1 card; expected V3"):
        read_charx(write_charx(json.dumps({"name": "Ren"}), []))


def test_directories_are_skipped() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("assets/", b"")
        archive.writestr("card.json", dump_card(luna_v3()))
        archive.writestr("assets/a.txt", b"a")
    charx = read_charx(buffer.getvalue())
    assert [m.path for m in charx.members] == ["assets/a.txt"]


def test_no_main_icon_without_embedded_assets() -> None:
    assert main_icon(read_charx(write_charx(dump_card(luna_v3()), members()))) is None
    card = luna_with_assets()
    card["data"]["assets"] = [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}]
    assert main_icon(read_charx(write_charx(dump_card(card), members()))) is None


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        ("embeded://assets/icon/images/main.png", "assets/icon/images/main.png"),
        ("embedded://assets/a.ogg", "assets/a.ogg"),
        ("EMBEDED://assets/a.ogg", None),
        ("embeded://../x", None),
        ("embeded:///etc/passwd", None),
        ("embeded://", None),
        ("embeded://assets/", None),
        ("ccdefault:", None),
        ("https://example.org/a.png", None),
        ("__asset:assets/a.png", None),
    ],
)
def test_embedded_path(uri: str, path: str | None) -> None:
    assert embedded_path(uri) == path


def test_write_refuses_bad_members() -> None:
    text = dump_card(luna_v3())
    with pytest.raises(CardError, match="must not include card.json"):
        write_charx(text, [CharxMember("card.json", b"{}")])
    with pytest.raises(CardError, match="escapes the archive"):
        write_charx(text, [CharxMember("../x", b"")])
    with pytest.raises(CardError, match="bad or repeated"):
        write_charx(text, [CharxMember("a", b""), CharxMember("a", b"")])
