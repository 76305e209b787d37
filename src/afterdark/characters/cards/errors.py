"""The one error the card codecs raise.

    InvalidInputError (422, afterdark.errors)
    └── CardError       the uploaded file is not a card we can read; the message says why

Every public reader turns any failure on hostile bytes into ``CardError``; nothing else
escapes, so the web layer can render it as a 422 and the CLI can print it.
"""

from __future__ import annotations

from afterdark.errors import InvalidInputError


class CardError(InvalidInputError):
    code = "invalid_card"


def human_size(size: int) -> str:
    """Format a byte count the way limits are written: ``16 MiB``, ``1 KiB``, ``300 bytes``."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"
