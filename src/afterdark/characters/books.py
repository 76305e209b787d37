"""Checks on a lorebook (``character_book``) sent by the Studio or found in a card."""

from __future__ import annotations

from typing import Any

from afterdark.errors import InvalidInputError

MAX_ENTRIES = 2_000
MAX_CONTENT = 100_000

_OPTIONAL_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "comment": (str,),
    "secondary_keys": (list,),
    "selective": (bool,),
    "constant": (bool,),
    "case_sensitive": (bool,),
    "use_regex": (bool,),
    "priority": (int, float),
    "position": (str,),
    "id": (int, str),
    "extensions": (dict,),
}


def check_book(book: dict[str, Any] | None) -> None:
    """Refuse a malformed lorebook with a message naming the entry and field."""
    if book is None:
        return
    entries = book.get("entries", [])
    if not isinstance(entries, list):
        raise InvalidInputError("Lorebook: 'entries' must be a list.")
    if len(entries) > MAX_ENTRIES:
        raise InvalidInputError(f"Lorebook: at most {MAX_ENTRIES} entries, got {len(entries)}.")
    for key in ("scan_depth", "token_budget"):
        value = book.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise InvalidInputError(f"Lorebook: '{key}' must be a whole number.")
    for number, entry in enumerate(entries, start=1):
        _check_entry(number, entry)


def _check_entry(number: int, entry: Any) -> None:
    where = f"Lorebook entry {number}"
    if not isinstance(entry, dict):
        raise InvalidInputError(f"{where} must be an object.")
    keys = entry.get("keys", [])
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise InvalidInputError(f"{where}: 'keys' must be a list of words or phrases.")
    content = entry.get("content", "")
    if not isinstance(content, str):
        raise InvalidInputError(f"{where}: 'content' must be text.")
    if len(content) > MAX_CONTENT:
        raise InvalidInputError(f"{where}: 'content' is longer than {MAX_CONTENT} characters.")
    if "enabled" in entry and not isinstance(entry["enabled"], bool):
        raise InvalidInputError(f"{where}: 'enabled' must be true or false.")
    order = entry.get("insertion_order", 0)
    if not isinstance(order, int | float) or isinstance(order, bool):
        raise InvalidInputError(f"{where}: 'insertion_order' must be a number.")
    for field, types in _OPTIONAL_TYPES.items():
        value = entry.get(field)
        if value is not None and not isinstance(value, types):
            raise InvalidInputError(f"{where}: '{field}' has the wrong type.")
    if not keys and not entry.get("constant") and content.strip():
        raise InvalidInputError(
            f"{where}: give it at least one key, or mark it constant so it is always included."
        )
