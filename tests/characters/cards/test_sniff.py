"""read_card_file: the container is chosen by magic bytes, never by the file name."""

from __future__ import annotations

import json

import pytest

from afterdark.characters.cards import (
    CardError,
    CardLimits,
    dump_card,
    read_card_file,
    write_charx,
)
from tests.characters.cards.builders import card_png, luna_v3

V1 = {"name": "Ren", "description": "Ren is a 27-year-old courier.", "first_mes": "Package."}


def test_json_with_bom_and_whitespace() -> None:
    for prefix in (b"", b"\xef\xbb\xbf", b"\r\n\t  "):
        imported = read_card_file(prefix + json.dumps(V1).encode(), "ren.png")
        assert imported.container == "json"
        assert imported.card.spec == "v1"
        assert imported.members == []
        assert imported.image is None


def test_png_and_charx_whatever_their_names() -> None:
    png = card_png(ccv3=dump_card(luna_v3()))
    imported = read_card_file(png, "card.json")
    assert imported.container == "png"
    assert imported.image == png
    charx = write_charx(dump_card(luna_v3()), [])
    assert read_card_file(charx, "card.png").container == "charx"


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"", "", r"not a character card: expected PNG, CharX or JSON$"),
        (b"hello", "", r"expected PNG, CharX or JSON$"),
        (b"RIFF\0\0\0\0WEBPVP8 ", "a.webp", "WEBP cards are not supported"),
        (b"\xff\xd8\xff\xe0\0\x10JFIF", "a.jpg", "this is a JPEG image"),
        (b"GIF89a", "", "this is a GIF image"),
        ('{"name": "x"}'.encode("utf-16"), "", "UTF-16"),
        (b"[1]", "card.json", "'card.json' does not hold what its name says"),
    ],
)
def test_what_is_not_a_card(data: bytes, filename: str, message: str) -> None:
    with pytest.raises(CardError, match=message):
        read_card_file(data, filename)


def test_size_limit_comes_first() -> None:
    with pytest.raises(CardError, match="file is 1025 bytes; the limit is 1 KiB"):
        read_card_file(b"x" * 1025, limits=CardLimits(max_file_bytes=1024))


def test_a_lorebook_passed_as_a_card() -> None:
    book = {"spec": "lorebook_v3", "data": luna_v3()["data"]["character_book"]}
    with pytest.raises(CardError, match=r"this is a lorebook \(spec 'lorebook_v3'\)"):
        read_card_file(json.dumps(book).encode(), "book.json")


def test_a_newer_v3_is_read_with_a_warning() -> None:
    card = luna_v3()
    card["spec_version"] = "3.2"
    imported = read_card_file(json.dumps(card).encode())
    assert imported.card.spec == "v3"
    assert imported.warnings == ["card spec_version 3.2 is newer than 3.0; read as 3.0"]
    assert read_card_file(json.dumps(luna_v3()).encode()).warnings == []
