"""Card text in PNG text chunks: tEXt, zTXt and iTXt payloads holding base64 of UTF-8 JSON."""

from __future__ import annotations

import base64
import binascii
import zlib

from afterdark.characters.cards.errors import CardError, human_size
from afterdark.characters.cards.jsontext import decode_utf8
from afterdark.characters.cards.limits import CardLimits
from afterdark.characters.cards.pngchunks import make_chunk


def card_text(ctype: str, body: bytes, limits: CardLimits) -> str:
    """The card JSON text carried by one ``chara``/``ccv3`` text chunk."""
    keyword, _, rest = body.partition(b"\0")
    name = f"the '{keyword.decode('latin-1')}' chunk"
    if ctype == "zTXt":
        if rest[:1] != b"\0":
            raise CardError(f"{name} uses an unknown compression method")
        value = _inflate(rest[1:], limits, name)
    elif ctype == "iTXt":
        value = _itxt_text(rest, limits, name)
    else:
        value = rest
    if value.lstrip(b" \t\r\n\xef\xbb\xbf").startswith(b"{"):
        # Not the spec, but seen in the wild: the JSON itself instead of its base64.
        return decode_utf8(value, name)
    return decode_utf8(_unbase64(value, name), name)


def _itxt_text(rest: bytes, limits: CardLimits, name: str) -> bytes:
    if len(rest) < 2:
        raise CardError(f"{name} is a malformed iTXt chunk")
    compressed, method = rest[0], rest[1]
    parts = rest[2:].split(b"\0", 2)
    if len(parts) != 3 or compressed > 1 or method != 0:
        raise CardError(f"{name} is a malformed iTXt chunk")
    return _inflate(parts[2], limits, name) if compressed else parts[2]


def _inflate(data: bytes, limits: CardLimits, name: str) -> bytes:
    limit = limits.max_text_chunk_bytes
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error:
        raise CardError(f"{name} has invalid compressed data") from None
    if len(out) > limit:
        raise CardError(f"{name} decompresses to more than {human_size(limit)}")
    if not inflater.eof:
        raise CardError(f"{name} has truncated compressed data")
    return out


def _unbase64(value: bytes, name: str) -> bytes:
    compact = value.translate(None, b" \t\r\n")  # far faster than a regex on large cards
    # Some writers drop the padding; put it back rather than refuse the card.
    compact += b"=" * (-len(compact) % 4) if not compact.endswith(b"=") else b""
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise CardError(f"invalid base64 in {name}") from None


def text_chunk(keyword: str, text: str, limits: CardLimits) -> bytes:
    """A tEXt chunk holding standard, padded base64 of ``text`` as UTF-8."""
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:
        raise CardError(f"the '{keyword}' text is not valid Unicode") from None
    body = keyword.encode("latin-1") + b"\0" + base64.b64encode(encoded)
    if len(body) > limits.max_text_chunk_bytes:
        limit = human_size(limits.max_text_chunk_bytes)
        raise CardError(f"the '{keyword}' chunk would be {len(body)} bytes; the limit is {limit}")
    return make_chunk("tEXt", body)
