"""Write the fuzzing seeds in fuzz/corpus/ from our own small fixtures.

Run from the repository root: ``.venv/bin/python fuzz/make_corpus.py``. Each seed starts
with the target byte used by fuzz_cards.py (0 and 2: PNG, 1: CharX, 3: card JSON).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from afterdark.characters.cards import CharxMember, convert, dump_card, write_charx, write_png

CORPUS = Path(__file__).resolve().parent / "corpus"
CARD = {
    "spec": "chara_card_v3",
    "spec_version": "3.0",
    "data": {
        "name": "Ada",
        "description": "Ada is a 34-year-old ship's engineer.",
        "first_mes": "Mind the wiring.",
        "extensions": {"depth": [1, 2.5, None, True]},
        "assets": [
            {"type": "icon", "uri": "embeded://assets/icon/images/main.png", "name": "main"}
        ],
        "character_book": {
            "extensions": {},
            "entries": [{"keys": ["ship"], "content": "@@depth 2\nThe ship.", "id": 0}],
        },
    },
}


def chunk(ctype: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(ctype + body)
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", crc)


def tiny_png() -> bytes:
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    rows = b"\x00\x10\x20\x30\x40\x50\x60" * 2
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def seeds() -> dict[str, bytes]:
    v3 = dump_card(CARD)
    v2 = dump_card(convert(CARD, "v2"))
    v1 = dump_card(convert(CARD, "v1"))
    image = tiny_png()
    return {
        "png_v3_both": b"\0" + write_png(image, chara=v2, ccv3=v3),
        "png_v2_chara": b"\0" + write_png(image, chara=v2, ccv3=None),
        "png_v1_chara": b"\0" + write_png(image, chara=v1, ccv3=None),
        "png_plain": b"\0" + image,
        "charx_assets": b"\1"
        + write_charx(v3, [CharxMember("assets/icon/images/main.png", image)]),
        "charx_bare": b"\1" + write_charx(v2, []),
        "png_crc_fixed": b"\2" + write_png(image, chara=v1, ccv3=v3),
        "json_v3": b"\3" + v3.encode(),
        "json_v2": b"\3" + v2.encode(),
    }


def main() -> None:
    CORPUS.mkdir(exist_ok=True)
    for name, data in seeds().items():
        (CORPUS / name).write_bytes(data)


if __name__ == "__main__":
    main()
