"""Hostile and broken files: each one is refused with a CardError that says what is wrong."""

from __future__ import annotations

import base64
import io
import json
import random
import struct
import zipfile
import zlib

import pytest

from afterdark.characters.cards import (
    CardError,
    CardLimits,
    dump_card,
    read_card_file,
    read_charx,
    read_png,
    write_charx,
)
from tests.characters.cards.builders import (
    SIGNATURE,
    card_png,
    chunk,
    data_file,
    ihdr,
    luna_v3,
    make_zip,
    patch_zip,
    text_chunk,
    tiny_png,
)

DEEP = '{"name": "x", "a": ' + "[" * 10_000 + "]" * 10_000 + "}"
MIB = 2**20
CARD = dump_card(luna_v3())


# --- PNG ---------------------------------------------------------------------------


def test_not_a_png() -> None:
    for data in (b"", b"GIF89a" + bytes(100), SIGNATURE[:7], b"\x89PNG\r\n\x1a\r" + bytes(40)):
        with pytest.raises(CardError, match="^not a PNG file$"):
            read_png(data)


@pytest.mark.parametrize(
    "name", ["llamacpp-chat-memory_Skynet_v1.png", "choral_Default-chan_v3.png"]
)
def test_truncated_at_many_offsets(name: str) -> None:
    data = data_file(name)
    cuts = [0, 7, 8, 9, 12, 16, 20, 32, 33, 40, 1000, len(data) // 2, len(data) - 13]
    cuts += [len(data) - 12, len(data) - 5, len(data) - 1]
    messages = set()
    for cut in cuts:
        with pytest.raises(CardError, match=r"^(not a PNG file|PNG is truncated)") as info:
            read_png(data[:cut])
        messages.add(info.value.message)
    assert "PNG is truncated in chunk IDAT" in messages
    assert "PNG is truncated in chunk IHDR" in messages
    assert "PNG is truncated in chunk IEND" in messages
    assert "PNG is truncated before its IEND chunk" in messages
    assert "PNG is truncated in a chunk header" in messages


def test_truncated_in_the_card_chunk() -> None:
    data = data_file("choral_Default-chan_v3.png")
    cut = data.index(b"tEXt") + 100
    with pytest.raises(CardError, match="^PNG is truncated in chunk tEXt$"):
        read_png(data[:cut])


def test_bad_crc() -> None:
    data = bytearray(data_file("llamacpp-chat-memory_Skynet_v1.png"))
    data[100] ^= 0xFF  # inside the first IDAT
    with pytest.raises(CardError, match=r"^PNG chunk IDAT has a bad CRC \(the file is corrupt\)$"):
        read_png(bytes(data))
    card = bytearray(data_file("choral_Default-chan_v3.png"))
    card[card.index(b"ccv3") + 10] ^= 0x01
    with pytest.raises(CardError, match="PNG chunk tEXt has a bad CRC"):
        read_png(bytes(card))


def test_chunk_header_claims_50_mb() -> None:
    head = SIGNATURE + ihdr(2, 2) + tiny_png()[33:-12]  # IHDR and IDAT of a real image
    data = head + struct.pack(">I", 50 * MIB) + b"tEXt" + b"chara\0QUFB" + bytes(20)
    with pytest.raises(
        CardError, match="^tEXt chunk 'chara' is 52428800 bytes; the limit is 16 MiB$"
    ):
        read_png(data)
    other = head + struct.pack(">I", 50 * MIB) + b"IDAT" + bytes(20)
    with pytest.raises(CardError, match="^PNG is truncated in chunk IDAT$"):
        read_png(other)
    invalid = head + struct.pack(">I", 2**31) + b"IDAT" + bytes(20)
    with pytest.raises(CardError, match="invalid length"):
        read_png(invalid)


def test_a_real_50_mb_text_chunk() -> None:
    size = 50 * MIB
    head = tiny_png()[:-12] + struct.pack(">I", size) + b"zTXt" + b"ccv3\0"
    body_crc = zlib.crc32(bytes(size - 5), zlib.crc32(b"zTXtccv3\0"))
    # bytes(n) is calloc'd zero pages: only the joined result takes resident memory.
    data = b"".join([head, bytes(size - 5), struct.pack(">I", body_crc), chunk(b"IEND", b"")])
    assert len(data) > size
    with pytest.raises(CardError, match=r"^file is \d+ bytes; the limit is 32 MiB$"):
        read_png(data)
    with pytest.raises(CardError, match=r"^file is \d+ bytes; the limit is 32 MiB$"):
        read_card_file(data)
    roomy = CardLimits(max_file_bytes=64 * MIB)
    with pytest.raises(
        CardError, match="^zTXt chunk 'ccv3' is 52428800 bytes; the limit is 16 MiB$"
    ):
        read_png(data, roomy)
    del data


def test_ztxt_bomb_is_bounded() -> None:
    bomb = zlib.compress(b"A" * (17 * MIB), 9)
    data = tiny_png(extra=chunk(b"zTXt", b"chara\0\0" + bomb))
    with pytest.raises(CardError, match="'chara' chunk decompresses to more than 16 MiB"):
        read_png(data)
    cut = tiny_png(extra=chunk(b"zTXt", b"chara\0\0" + zlib.compress(b"QUFB" * 100)[:-8]))
    with pytest.raises(CardError, match="truncated compressed data"):
        read_png(cut)
    junk = tiny_png(extra=chunk(b"zTXt", b"chara\0\0not zlib"))
    with pytest.raises(CardError, match="invalid compressed data"):
        read_png(junk)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"!!!!", "^invalid base64 in the 'chara' chunk$"),
        (b"QUJD=A==", "^invalid base64 in the 'chara' chunk$"),
        (b"Q", "^invalid base64 in the 'chara' chunk$"),
        (b"\xe9\xe9\xe9\xe9", "^invalid base64 in the 'chara' chunk$"),
        (base64.b64encode(b'{"name": "\xc3\x28"}'), "'chara' chunk is not valid UTF-8"),
        (base64.b64encode(DEEP.encode()), "^card JSON is nested deeper than 100 levels$"),
        (base64.b64encode(b"[]"), "must be an object, not an array"),
        (b"", "not valid JSON"),
    ],
)
def test_bad_card_text_in_png(value: bytes, message: str) -> None:
    with pytest.raises(CardError, match=message):
        read_png(tiny_png(extra=chunk(b"tEXt", b"chara\0" + value)))


def test_deep_json_in_a_json_file() -> None:
    with pytest.raises(CardError, match="^card JSON is nested deeper than 100 levels$"):
        read_card_file(DEEP.encode())


@pytest.mark.parametrize(
    ("width", "height", "message"),
    [
        (30000, 30000, "^image is 30000×30000 pixels; the limit is 8192 per side$"),
        (8000, 8000, "^image is 8000×8000 pixels; the limit is 40,000,000 pixels$"),
        (0, 5, "invalid dimensions 0×5"),
        (2**31, 1, "invalid dimensions"),
    ],
)
def test_ihdr_dimensions(width: int, height: int, message: str) -> None:
    data = SIGNATURE + ihdr(width, height) + tiny_png()[33:]
    with pytest.raises(CardError, match=message):
        read_png(data)


def test_too_many_chunks() -> None:
    filler = chunk(b"abCd", b"") * 20
    with pytest.raises(CardError, match="^PNG has more than 10 chunks$"):
        read_png(tiny_png(extra=filler), CardLimits(max_png_chunks=10))
    assert read_png(card_png(chara=CARD), CardLimits(max_png_chunks=4)).card.spec == "v3"


def test_too_many_json_containers() -> None:
    text = '{"name": "x", "a": [' + ",".join(["{}"] * 600_000) + "]}"
    with pytest.raises(
        CardError, match="^card JSON has 600,002 objects and arrays; the limit is 500,000$"
    ):
        read_card_file(text.encode())


def test_malformed_structure() -> None:
    idat_only = SIGNATURE + tiny_png()[33:]
    with pytest.raises(CardError, match="must start with exactly one IHDR"):
        read_png(idat_only)
    two_headers = tiny_png()[:33] + ihdr(2, 2) + tiny_png()[33:]
    with pytest.raises(CardError, match="must start with exactly one IHDR"):
        read_png(two_headers)
    no_idat = SIGNATURE + ihdr(2, 2) + text_chunk("chara", CARD) + chunk(b"IEND", b"")
    with pytest.raises(CardError, match=r"no image data \(no IDAT chunk\)"):
        read_png(no_idat)
    bad_type = tiny_png(extra=chunk(b"ab1d", b""))
    with pytest.raises(CardError, match="has an invalid type"):
        read_png(bad_type)
    bad_ihdr = SIGNATURE + chunk(b"IHDR", b"\0\0\0\2\0\0\0\2\x07\x02\0\0\0") + tiny_png()[33:]
    with pytest.raises(CardError, match="invalid colour type"):
        read_png(bad_ihdr)
    short_ihdr = SIGNATURE + chunk(b"IHDR", b"\0\0\0\2") + tiny_png()[33:]
    with pytest.raises(CardError, match="IHDR chunk has the wrong length"):
        read_png(short_ihdr)
    bad_itxt = tiny_png(extra=chunk(b"iTXt", b"ccv3\0\0"))
    with pytest.raises(CardError, match="malformed iTXt"):
        read_png(bad_itxt)


# --- CharX -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zip_bomb() -> bytes:
    """A CharX with a member of 300 MB of zeros (about 300 KB compressed), built streaming."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("card.json", CARD)
        with archive.open("assets/other/other/zeros.bin", "w") as member:
            block = bytes(MIB)
            for _ in range(300):
                member.write(block)
    return buffer.getvalue()


def test_zip_bomb_is_refused_by_ratio(zip_bomb: bytes) -> None:
    assert len(zip_bomb) < 2 * MIB
    with pytest.raises(
        CardError, match="^CharX member 'assets/other/other/zeros.bin' expands more than 200 times"
    ):
        read_charx(zip_bomb)


def test_zip_bomb_is_refused_by_the_member_cap(zip_bomb: bytes) -> None:
    limits = CardLimits(max_zip_ratio=10**9)
    with pytest.raises(CardError, match="zeros.bin' is larger than 64 MiB$"):
        read_charx(zip_bomb, limits)


def test_total_cap() -> None:
    data = make_zip([("card.json", CARD.encode())] + [(f"a{i}", bytes(MIB)) for i in range(3)])
    limits = CardLimits(max_zip_ratio=10**9, max_zip_total_bytes=2 * MIB + 100)
    with pytest.raises(CardError, match="^CharX contents are larger than .* in total$"):
        read_charx(data, limits)


def incompressible(size: int) -> bytes:
    return random.Random(7).randbytes(size)


def test_headers_that_lie_about_sizes() -> None:
    body = incompressible(MIB)
    data = make_zip([("card.json", CARD.encode()), ("assets/a.bin", body)])
    # Claims fewer bytes than it holds: zipfile stops there and the CRC cannot match.
    with pytest.raises(CardError, match="^CharX archive is corrupt"):
        read_charx(patch_zip(data, "assets/a.bin", usize=1000))
    with pytest.raises(CardError, match="^CharX archive is corrupt"):
        read_charx(patch_zip(data, "assets/a.bin", csize=1000))
    # Claims far more than it holds: we get what is really there, never a 100 MB buffer.
    charx = read_charx(patch_zip(data, "assets/a.bin", usize=100 * MIB))
    assert charx.members[0].data == body
    # A small stored size in front of a big deflated stream is caught by the caps.
    bomb = make_zip([("card.json", CARD.encode()), ("z", bytes(8 * MIB))])
    with pytest.raises(CardError, match="^CharX (archive is corrupt|member 'z' expands)"):
        read_charx(patch_zip(bomb, "z", usize=10))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../evil", "^CharX member '../evil' escapes the archive$"),
        ("assets/../../evil", "escapes the archive"),
        ("/abs", "^CharX member '/abs' escapes the archive$"),
        ("C:/windows/x", "escapes the archive"),
        ("a\\b", r"contains a backslash"),
        ("..\\evil", r"contains a backslash"),
        ("a//b", "empty or '.' path segment"),
        ("./card.json", "empty or '.' path segment"),
    ],
)
def test_path_traversal(name: str, message: str) -> None:
    data = make_zip([("card.json", CARD.encode()), (name, b"x")])
    with pytest.raises(CardError, match=message):
        read_charx(data)


def test_nul_in_a_member_name() -> None:
    data = make_zip([("card.json", CARD.encode()), ("a_b", b"x")])
    with pytest.raises(CardError, match=r"contains a NUL byte"):
        read_charx(patch_zip(data, "a_b", new_name=b"a\0b"))


def test_duplicate_and_encrypted_members() -> None:
    dup = make_zip([("card.json", CARD.encode()), ("a.png", b"1"), ("a.png", b"2")])
    with pytest.raises(CardError, match="^CharX member 'a.png' appears twice$"):
        read_charx(dup)
    dup_card = make_zip([("card.json", CARD.encode()), ("card.json", b"{}")])
    with pytest.raises(CardError, match="'card.json' appears twice"):
        read_charx(dup_card)
    plain = make_zip([("card.json", CARD.encode()), ("secret.bin", b"x" * 50)])
    with pytest.raises(CardError, match="^CharX member 'secret.bin' is encrypted$"):
        read_charx(patch_zip(plain, "secret.bin", flags=0x1))


def test_unsupported_compression() -> None:
    data = make_zip([("card.json", CARD.encode())], method=zipfile.ZIP_BZIP2)
    with pytest.raises(CardError, match=r"uses unsupported compression \(method 12\)"):
        read_charx(data)


def test_too_many_members() -> None:
    data = make_zip([("card.json", CARD.encode())] + [(f"m/{i}", b"") for i in range(2001)])
    with pytest.raises(CardError, match="^CharX has more than 2000 members$"):
        read_charx(data)
    small = make_zip([("card.json", CARD.encode())] + [(f"m/{i}", b"") for i in range(5)])
    with pytest.raises(CardError, match="more than 3 members"):
        read_charx(small, CardLimits(max_zip_members=3))


def test_missing_or_bad_card_json() -> None:
    for members in ([("assets/a.png", b"x")], [("sub/card.json", CARD.encode())], []):
        data = make_zip(members)
        with pytest.raises(CardError, match="^CharX has no card.json at its root$"):
            read_charx(data)
    deep = make_zip([("card.json", DEEP.encode())])
    with pytest.raises(CardError, match="nested deeper than 100 levels"):
        read_charx(deep)
    book = json.dumps({"spec": "lorebook_v3", "data": {"entries": []}})
    with pytest.raises(CardError, match="lorebook"):
        read_charx(write_charx(book, []))
    with pytest.raises(CardError, match="card.json is 2048 bytes; the limit is 1 KiB"):
        read_charx(write_charx(" " * 2048, []), CardLimits(max_text_chunk_bytes=1024))


def test_not_a_zip() -> None:
    with pytest.raises(CardError, match=r"^not a CharX file \(not a ZIP archive\)$"):
        read_charx(b"hello")
    for data in (b"PK\x03\x04" + bytes(100), b"PK\x05\x06" + bytes(10), b"PK"):
        with pytest.raises(CardError, match="^CharX archive is corrupt"):
            read_charx(data)
    with pytest.raises(CardError, match="^CharX has no card.json at its root$"):
        read_charx(b"PK\x05\x06" + bytes(18))  # a valid, empty archive
    with pytest.raises(CardError, match="^CharX archive is corrupt"):
        read_card_file(b"PK\x03\x04 not really a zip")


def test_truncated_charx() -> None:
    data = write_charx(CARD, [])
    for cut in (4, 30, len(data) // 2, len(data) - 1):
        with pytest.raises(CardError, match="^CharX archive is corrupt"):
            read_charx(data[:cut])
