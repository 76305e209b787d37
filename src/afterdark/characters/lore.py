"""The part of a character's lorebook that reaches the prompt today: its constant entries.

Entries marked ``constant`` (and enabled) are always inserted, before or after the
character's description by their ``position``, in ``insertion_order``. Entries triggered
by keys, and the V3 decorators beyond stripping them, belong to the lorebook engine of the
memory work; until then they are kept, edited and exported, but not inserted.
"""

from __future__ import annotations

from typing import Any

from afterdark.characters.cards import strip_decorators


def _order(entry: dict[str, Any]) -> float:
    value = entry.get("insertion_order", 0)
    return float(value) if isinstance(value, int | float) else 0.0


def constant_lore(book: dict[str, Any] | None) -> tuple[list[str], list[str]]:
    """The constant entries' texts placed before and after the character."""
    if not book or not isinstance(book.get("entries"), list):
        return [], []
    entries = [
        e
        for e in book["entries"]
        if isinstance(e, dict) and e.get("constant") is True and e.get("enabled", True) is not False
    ]
    before: list[str] = []
    after: list[str] = []
    for entry in sorted(entries, key=_order):
        text = strip_decorators(str(entry.get("content", ""))).strip()
        if text:
            (after if entry.get("position") == "after_char" else before).append(text)
    return before, after


def keyed_entry_count(book: dict[str, Any] | None) -> int:
    """How many enabled entries wait for keys to match (not inserted yet)."""
    if not book or not isinstance(book.get("entries"), list):
        return 0
    return sum(
        1
        for e in book["entries"]
        if isinstance(e, dict) and e.get("enabled", True) is not False and not e.get("constant")
    )
