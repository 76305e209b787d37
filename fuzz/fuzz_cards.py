"""Fuzz the PNG and CharX card readers with atheris (libFuzzer for Python).

The first byte of each input picks the target (its value modulo 4), the rest is the file:

    0  read_png on the bytes as they are
    1  read_charx on the bytes as they are
    2  read_png after recomputing every chunk CRC, so mutations get past the CRC check
    3  read_charx on a valid ZIP whose card.json holds the bytes (fuzzes the card JSON)

CardError is the expected refusal; any other exception is a crash. See fuzz/README.md.
"""

from __future__ import annotations

import struct
import sys
import zlib

import atheris

# zipfile, base64 and json are imported (and so instrumented) through the package.
with atheris.instrument_imports():
    from afterdark.characters.cards import CardError, read_charx, read_png
    from afterdark.characters.cards.ziparchive import write_zip


def fix_crcs(data: bytes) -> bytes:
    """``data`` with the CRC of every chunk its length fields let us find recomputed."""
    out = bytearray(data)
    pos = 8
    while pos + 12 <= len(out):
        (length,) = struct.unpack_from(">I", out, pos)
        end = pos + 12 + length
        if end > len(out):
            break
        struct.pack_into(">I", out, end - 4, zlib.crc32(out[pos + 4 : end - 4]))
        pos = end
    return bytes(out)


def test_one_input(data: bytes) -> None:
    if not data:
        return
    target, body = data[0] % 4, data[1:]
    try:
        if target == 0:
            read_png(body)
        elif target == 1:
            read_charx(body)
        elif target == 2:
            read_png(fix_crcs(body))
        else:
            read_charx(write_zip([("card.json", body)]))
    except CardError:
        pass


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
