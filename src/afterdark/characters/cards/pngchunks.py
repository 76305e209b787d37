"""PNG chunk layout: signature, lengths, CRCs, IHDR limits and IEND, without decoding pixels."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from afterdark.characters.cards.errors import CardError, human_size
from afterdark.characters.cards.limits import CardLimits, check_file_size

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEXT_TYPES = frozenset({"tEXt", "zTXt", "iTXt"})
# The spec says "chara"; the V1 document spelled it "Chara" and some writers followed it.
CARD_KEYWORDS = frozenset({"chara", "Chara", "ccv3"})
_MAX_CHUNK_LENGTH = 2**31 - 1
_MAX_KEYWORD = 79
_BIT_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}


@dataclass(frozen=True)
class Chunk:
    type: str
    start: int  # offset of the length field
    end: int  # offset just past the CRC
    keyword: str | None = None  # text chunks only

    @property
    def data_start(self) -> int:
        return self.start + 8

    @property
    def data_end(self) -> int:
        return self.end - 4

    @property
    def is_card(self) -> bool:
        return self.keyword in CARD_KEYWORDS


@dataclass(frozen=True)
class PngLayout:
    chunks: list[Chunk]
    width: int
    height: int


def walk_png(data: bytes, limits: CardLimits) -> PngLayout:
    """Check a PNG's chunk structure from signature to IEND and list its chunks."""
    check_file_size(data, limits)
    if not data.startswith(PNG_SIGNATURE):
        raise CardError("not a PNG file")
    view = memoryview(data)
    chunks: list[Chunk] = []
    size: tuple[int, int] | None = None
    pos = len(PNG_SIGNATURE)
    while not chunks or chunks[-1].type != "IEND":
        if pos + 8 > len(data):
            where = "before its IEND chunk" if pos == len(data) else "in a chunk header"
            raise CardError(f"PNG is truncated {where}")
        length, raw_type = struct.unpack_from(">I4s", data, pos)
        if not raw_type.isalpha():
            raise CardError(f"PNG chunk at offset {pos} has an invalid type {raw_type!r}")
        ctype = raw_type.decode("ascii")
        if length > _MAX_CHUNK_LENGTH:
            raise CardError(f"PNG chunk {ctype} has an invalid length ({length})")
        keyword = _keyword(view, pos + 8, length) if ctype in TEXT_TYPES else None
        if keyword in CARD_KEYWORDS and length > limits.max_text_chunk_bytes:
            limit = human_size(limits.max_text_chunk_bytes)
            raise CardError(f"{ctype} chunk '{keyword}' is {length} bytes; the limit is {limit}")
        end = pos + 12 + length
        if end > len(data):
            raise CardError(f"PNG is truncated in chunk {ctype}")
        (crc,) = struct.unpack_from(">I", data, end - 4)
        if zlib.crc32(view[pos + 4 : end - 4]) != crc:
            raise CardError(f"PNG chunk {ctype} has a bad CRC (the file is corrupt)")
        if (ctype == "IHDR") != (not chunks):
            raise CardError("PNG must start with exactly one IHDR chunk")
        if ctype == "IHDR":
            size = _read_ihdr(view[pos + 8 : end - 4], limits)
        chunks.append(Chunk(ctype, pos, end, keyword))
        if len(chunks) > limits.max_png_chunks:
            raise CardError(f"PNG has more than {limits.max_png_chunks:,} chunks")
        pos = end
    if size is None or not any(chunk.type == "IDAT" for chunk in chunks):
        raise CardError("PNG has no image data (no IDAT chunk)")
    return PngLayout(chunks, *size)


def _keyword(view: memoryview, start: int, length: int) -> str | None:
    head = bytes(view[start : start + min(length, _MAX_KEYWORD + 1)])
    keyword, sep, _ = head.partition(b"\0")
    return keyword.decode("latin-1") if sep and keyword else None


def _read_ihdr(body: memoryview, limits: CardLimits) -> tuple[int, int]:
    if len(body) != 13:
        raise CardError("PNG IHDR chunk has the wrong length")
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", body
    )
    if not (0 < width <= _MAX_CHUNK_LENGTH and 0 < height <= _MAX_CHUNK_LENGTH):
        raise CardError(f"PNG has invalid dimensions {width}×{height}")
    if depth not in _BIT_DEPTHS.get(colour, ()) or compression or filtering or interlace > 1:
        raise CardError("PNG IHDR chunk has an invalid colour type, bit depth or method")
    if max(width, height) > limits.max_image_side:
        raise CardError(
            f"image is {width}×{height} pixels; the limit is {limits.max_image_side} per side"
        )
    if width * height > limits.max_image_pixels:
        raise CardError(
            f"image is {width}×{height} pixels; the limit is {limits.max_image_pixels:,} pixels"
        )
    return width, height


def make_chunk(ctype: str, body: bytes) -> bytes:
    """One encoded chunk: length, type, data, CRC."""
    raw_type = ctype.encode("ascii")
    crc = zlib.crc32(body, zlib.crc32(raw_type))
    return struct.pack(">I", len(body)) + raw_type + body + struct.pack(">I", crc)
