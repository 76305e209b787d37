"""PNG cards: chunk choice, text chunk kinds, writing in place, and plain-image checks."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image

from afterdark.characters.cards import (
    CardError,
    CardLimits,
    dump_card,
    png_size,
    read_png,
    v2_backfill,
    write_png,
)
from tests.characters.cards.builders import (
    card_png,
    chunk,
    data_file,
    luna_v3,
    split_chunks,
    text_chunk,
    tiny_png,
)

V3_TEXT = dump_card(luna_v3())
V2_TEXT = dump_card(v2_backfill(luna_v3()))


def test_both_chunks_prefer_ccv3() -> None:
    png = read_png(card_png(chara=V2_TEXT, ccv3=V3_TEXT))
    assert png.card.spec == "v3"
    assert (png.chara, png.ccv3) == (V2_TEXT, V3_TEXT)
    assert (png.width, png.height) == (2, 2)
    assert png.warnings == []


def test_preference_holds_when_the_chunks_disagree() -> None:
    other = v2_backfill(luna_v3())
    other["data"]["name"] = "Backfill Only"
    for order in ("ccv3-first", "chara-first"):
        extra = (
            text_chunk("ccv3", V3_TEXT) + text_chunk("chara", dump_card(other))
            if order == "ccv3-first"
            else text_chunk("chara", dump_card(other)) + text_chunk("ccv3", V3_TEXT)
        )
        png = read_png(tiny_png(extra=extra))
        assert png.card.data["data"]["name"] == "Luna Starweaver", order


def test_a_broken_ccv3_falls_back_to_chara_with_a_warning() -> None:
    broken = tiny_png(extra=text_chunk("chara", V2_TEXT) + chunk(b"tEXt", b"ccv3\0%%%"))
    png = read_png(broken)
    assert png.card.spec == "v2"
    assert png.ccv3 is None
    assert png.chara == V2_TEXT
    assert png.warnings == ["ignored the 'ccv3' chunk: invalid base64 in the 'ccv3' chunk"]
    both_broken = tiny_png(extra=chunk(b"tEXt", b"chara\0{") + chunk(b"tEXt", b"ccv3\0%%%"))
    with pytest.raises(CardError, match="invalid base64 in the 'ccv3' chunk"):
        read_png(both_broken)


@pytest.mark.parametrize("ctype", [b"tEXt", b"zTXt", b"iTXt"])
@pytest.mark.parametrize("keyword", ["chara", "Chara", "ccv3"])
def test_text_chunk_kinds_and_keywords(ctype: bytes, keyword: str) -> None:
    png = read_png(tiny_png(extra=text_chunk(keyword, V3_TEXT, ctype)))
    assert png.card.data == luna_v3()
    assert (png.ccv3 if keyword == "ccv3" else png.chara) == V3_TEXT


def test_other_keywords_are_not_cards() -> None:
    with pytest.raises(CardError, match=r"PNG has no character card \(no 'chara' or 'ccv3'"):
        read_png(tiny_png(extra=text_chunk("CHARA", V2_TEXT) + text_chunk("Comment", "hi")))


def test_tolerated_base64_variants_and_raw_json() -> None:
    text = V2_TEXT + " " * (len(V2_TEXT.encode()) % 3 == 0)  # a length that needs padding
    raw = base64.b64encode(text.encode())
    assert raw.endswith(b"=")
    wrapped = b"\n".join(raw[i : i + 76] for i in range(0, len(raw), 76))
    for value in (raw.rstrip(b"="), wrapped, text.encode()):
        png = read_png(tiny_png(extra=chunk(b"tEXt", b"chara\0" + value)))
        assert png.chara == text


def test_apng_chunks_are_kept() -> None:
    actl = chunk(b"acTL", b"\0\0\0\1\0\0\0\0")
    fctl = chunk(b"fcTL", bytes(26))
    image = tiny_png(extra=actl + fctl)
    out = write_png(image, chara=V2_TEXT, ccv3=None)
    assert read_png(out).chara == V2_TEXT
    assert [t for t, _ in split_chunks(out)] == [
        b"IHDR",
        b"IDAT",
        b"acTL",
        b"fcTL",
        b"tEXt",
        b"IEND",
    ]


def test_write_replaces_card_chunks_in_place_and_keeps_the_rest() -> None:
    asset = chunk(b"tEXt", b"chara-ext-asset_:x\0" + base64.b64encode(b"asset"))
    risu = chunk(b"risU", b"app data")
    zold = text_chunk("Chara", "{}", b"zTXt")
    iold = text_chunk("ccv3", "{}", b"iTXt")
    image = tiny_png(extra=asset + zold + risu + iold)
    out = write_png(image, chara=V2_TEXT, ccv3=V3_TEXT)
    chunks = split_chunks(out)
    assert [t for t, _ in chunks] == [
        b"IHDR",
        b"IDAT",
        b"tEXt",  # the asset chunk, untouched
        b"tEXt",  # new chara, where the first old card chunk was
        b"tEXt",  # new ccv3
        b"risU",
        b"IEND",
    ]
    assert chunks[2][1].startswith(b"chara-ext-asset_:x\0")
    assert chunks[3][1] == b"chara\0" + base64.b64encode(V2_TEXT.encode())
    assert chunks[4][1] == b"ccv3\0" + base64.b64encode(V3_TEXT.encode())
    assert chunks[5] == (b"risU", b"app data")
    png = read_png(out)
    assert (png.chara, png.ccv3) == (V2_TEXT, V3_TEXT)


def test_write_without_card_chunks_inserts_before_iend_and_stays_an_image() -> None:
    out = write_png(tiny_png(3, 2), chara=None, ccv3=V3_TEXT)
    assert [t for t, _ in split_chunks(out)][-2:] == [b"tEXt", b"IEND"]
    with Image.open(io.BytesIO(out)) as image:
        image.load()
        assert image.size == (3, 2)
        assert json.loads(base64.b64decode(image.text["ccv3"])) == luna_v3()


def test_write_none_strips_the_card() -> None:
    out = write_png(card_png(chara=V2_TEXT, ccv3=V3_TEXT), chara=None, ccv3=None)
    assert out == tiny_png()


def test_write_refuses_bad_images_and_oversized_text() -> None:
    with pytest.raises(CardError, match="not a PNG file"):
        write_png(b"GIF89a", chara=V2_TEXT, ccv3=None)
    with pytest.raises(CardError, match="the 'ccv3' chunk would be .* the limit is 1 KiB"):
        write_png(
            tiny_png(), chara=None, ccv3=V3_TEXT, limits=CardLimits(max_text_chunk_bytes=1024)
        )


def test_png_size_for_avatars() -> None:
    assert png_size(data_file("st_default_Seraphina.png")) == (400, 600)
    assert png_size(tiny_png(7, 3)) == (7, 3)
    with pytest.raises(CardError, match="not a PNG file"):
        png_size(b"\xff\xd8\xff\xe0 jpeg")


def test_real_png_written_with_a_v3_card_reads_back_in_pillow() -> None:
    original = data_file("llamacpp-chat-memory_Skynet_v1.png")
    out = write_png(original, chara=V2_TEXT, ccv3=V3_TEXT)
    with Image.open(io.BytesIO(out)) as image:
        image.load()
        assert image.size == (500, 600)
    assert read_png(out).card.spec == "v3"
