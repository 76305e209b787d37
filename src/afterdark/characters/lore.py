"""Facts about a character's lorebook for the Studio (the engine is memory/lorebook)."""

from __future__ import annotations

from typing import Any


def keyed_entry_count(book: dict[str, Any] | None) -> int:
    """How many enabled entries wait for keys to match (rather than being constant)."""
    if not book or not isinstance(book.get("entries"), list):
        return 0
    return sum(
        1
        for e in book["entries"]
        if isinstance(e, dict) and e.get("enabled", True) is not False and not e.get("constant")
    )
