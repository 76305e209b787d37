"""Fixture builders for the card tests: tiny PNGs, raw chunks, zips, key-order views."""

from __future__ import annotations

import base64
import io
import json
import struct
import warnings
import zipfile
import zlib
from typing import Any

from tests.support.shared import CARDS

DATA_DIR = CARDS
SIGNATURE = b"\x89PNG\r\n\x1a\n"

PNG_CARDS = [
    "st_default_Seraphina.png",
    "st_default_FluxTheCat.png",
    "llamacpp-chat-memory_Skynet_v1.png",
    "choral_Default-chan_v3.png",
]
JSON_CARDS = ["card-architect_test-card_v3.json"]
WORLD_FILE = "st_Eldoria_world_info.json"


def data_file(name: str) -> bytes:
    return (DATA_DIR / name).read_bytes()


def chunk(ctype: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(ctype + body)
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", crc)


def ihdr(width: int, height: int, depth: int = 8, colour: int = 2) -> bytes:
    return chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0))


def tiny_png(width: int = 2, height: int = 2, extra: bytes = b"") -> bytes:
    """A real RGB PNG (decodable by Pillow), with ``extra`` chunks before IEND."""
    rows = b"".join(b"\x00" + bytes([40, 120, 200]) * width for _ in range(height))
    idat = chunk(b"IDAT", zlib.compress(rows))
    return SIGNATURE + ihdr(width, height) + idat + extra + chunk(b"IEND", b"")


def text_chunk(keyword: str, text: str | bytes, ctype: bytes = b"tEXt") -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    value = base64.b64encode(raw)
    key = keyword.encode("latin-1")
    if ctype == b"tEXt":
        return chunk(ctype, key + b"\0" + value)
    if ctype == b"zTXt":
        return chunk(ctype, key + b"\0\0" + zlib.compress(value))
    return chunk(ctype, key + b"\0\1\0en\0" + key + b"\0" + zlib.compress(value))


def card_png(chara: str | None = None, ccv3: str | None = None) -> bytes:
    extra = b""
    if chara is not None:
        extra += text_chunk("chara", chara)
    if ccv3 is not None:
        extra += text_chunk("ccv3", ccv3)
    return tiny_png(extra=extra)


def split_chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        out.append((png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return out


def fix_crcs(png: bytes) -> bytes:
    """Recompute every CRC that the (possibly mutated) length fields let us find."""
    out = bytearray(png)
    pos = 8
    while pos + 12 <= len(out):
        (length,) = struct.unpack(">I", out[pos : pos + 4])
        end = pos + 12 + length
        if end > len(out):
            break
        out[end - 4 : end] = struct.pack(">I", zlib.crc32(out[pos + 4 : end - 4]))
        pos = end
    return bytes(out)


def make_zip(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the repeated names we test
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, body in members:
                info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
                info.compress_type = method
                archive.writestr(info, body)
    return buffer.getvalue()


def ordered(value: Any) -> Any:
    """A view of a JSON value in which key order and scalar types matter for equality."""
    if isinstance(value, dict):
        return [(key, ordered(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [ordered(item) for item in value]
    return (type(value).__name__, value)


def luna_v3() -> dict[str, Any]:
    card: dict[str, Any] = json.loads(data_file("card-architect_test-card_v3.json"))
    return card


_LOCAL = (b"PK\x03\x04", 26, 30, {"flags": 6, "csize": 18, "usize": 22})
_CENTRAL = (b"PK\x01\x02", 28, 46, {"flags": 8, "csize": 20, "usize": 24})


def patch_zip(data: bytes, name: str, *, new_name: bytes | None = None, **fields: int) -> bytes:
    """Rewrite header fields of one member, in its local and its central-directory header."""
    out = bytearray(data)
    raw = name.encode()
    for signature, name_length_at, name_at, offsets in (_LOCAL, _CENTRAL):
        pos = out.find(signature)
        while pos != -1:
            (length,) = struct.unpack_from("<H", out, pos + name_length_at)
            if bytes(out[pos + name_at : pos + name_at + length]) == raw:
                for field, value in fields.items():
                    size = "<H" if field == "flags" else "<I"
                    struct.pack_into(size, out, pos + offsets[field], value)
                if new_name is not None:
                    assert len(new_name) == len(raw)
                    out[pos + name_at : pos + name_at + length] = new_name
            pos = out.find(signature, pos + 4)
    return bytes(out)
