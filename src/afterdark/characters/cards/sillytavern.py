"""SillyTavern world-info files <-> ``character_book`` objects (V2/V3 lorebooks).

World file: ``{"entries": {"<uid>": entry, ...}, ...}``. Book: ``{..., "entries": [entry]}``.

Entry mapping (world field -> book field):

    uid -> id              key -> keys            keysecondary -> secondary_keys
    comment -> comment     content -> content     constant -> constant
    selective -> selective order -> insertion_order
    disable -> enabled (negated)
    position -> position ("before_char" for 0, else "after_char") and extensions.position
    caseSensitive -> extensions.case_sensitive (and case_sensitive when it is a boolean)

Every other world field goes to the entry's ``extensions``, renamed to the snake_case name
SillyTavern itself uses when it embeds a world in a card (``excludeRecursion`` ->
``exclude_recursion``, ``groupOverride`` -> ``group_override``, ... see ``_RENAMED``) or
under its own name when it has no such name (``probability``, ``useProbability``,
``selectiveLogic``, ``addMemo``, future fields). Going back, extensions map to world
fields the same way, so world -> book -> world is lossless for files that carry the ten
core fields (SillyTavern always writes them). The world dict key is ``str(uid)``.

Root mapping: ``name``, ``description``, ``scan_depth``, ``token_budget`` and
``recursive_scanning`` keep their names; any other root key (``originalData``, ...) goes to
the book's ``extensions`` and back.

Book -> world drops what the world format cannot hold: entry ``name`` (used as the comment
when there is none), ``priority``, ``use_regex`` and unknown top-level entry keys.
"""

from __future__ import annotations

import copy
from typing import Any

_RENAMED = {
    "excludeRecursion": "exclude_recursion",
    "preventRecursion": "prevent_recursion",
    "delayUntilRecursion": "delay_until_recursion",
    "displayIndex": "display_index",
    "groupOverride": "group_override",
    "groupWeight": "group_weight",
    "useGroupScoring": "use_group_scoring",
    "scanDepth": "scan_depth",
    "caseSensitive": "case_sensitive",
    "matchWholeWords": "match_whole_words",
    "automationId": "automation_id",
}
_UNRENAMED = {ext: field for field, ext in _RENAMED.items()}
# The world fields that map onto book fields of their own rather than onto extensions.
_CORE = ("uid", "key", "keysecondary", "comment", "content", "constant", "selective", "order")
_CORE_ALL = frozenset(_CORE + ("disable",))
_BOOK_ROOT = ("name", "description", "scan_depth", "token_budget", "recursive_scanning")


def sillytavern_to_book(world: dict[str, Any], *, name: str | None = None) -> dict[str, Any]:
    """A ``character_book`` from a SillyTavern world-info object (``name`` if it has none)."""
    world = copy.deepcopy(world)
    book: dict[str, Any] = {key: world[key] for key in _BOOK_ROOT if key in world}
    if name is not None and "name" not in book:
        book = {"name": name} | book
    book["extensions"] = {
        key: value for key, value in world.items() if key not in _BOOK_ROOT and key != "entries"
    }
    entries = world.get("entries")
    items = entries.items() if isinstance(entries, dict) else []
    book["entries"] = [
        _to_book_entry(key, entry) for key, entry in items if isinstance(entry, dict)
    ]
    return book


def book_to_sillytavern(book: dict[str, Any]) -> dict[str, Any]:
    """A SillyTavern world-info object from a ``character_book``."""
    book = copy.deepcopy(book)
    entries: dict[str, Any] = {}
    raw = book.get("entries")
    for index, entry in enumerate(raw if isinstance(raw, list) else []):
        if isinstance(entry, dict):
            world_entry = _to_world_entry(index, entry)
            key = str(world_entry["uid"])
            if key in entries:  # a repeated id: keep the entry under a free number
                free = next(n for n in range(len(entries) + 1) if str(n) not in entries)
                key, world_entry["uid"] = str(free), free
            entries[key] = world_entry
    world: dict[str, Any] = {"entries": entries}
    world.update({key: book[key] for key in _BOOK_ROOT if key in book})
    extensions = book.get("extensions")
    for key, value in extensions.items() if isinstance(extensions, dict) else []:
        world.setdefault(key, value)
    return world


def _to_book_entry(dict_key: str, world: dict[str, Any]) -> dict[str, Any]:
    uid = world.get("uid", int(dict_key) if dict_key.isdigit() else dict_key)
    position = world.get("position", 0)
    entry: dict[str, Any] = {
        "id": uid,
        "keys": world.get("key", []),
        "secondary_keys": world.get("keysecondary", []),
        "comment": world.get("comment", ""),
        "content": world.get("content", ""),
        "constant": world.get("constant", False),
        "selective": world.get("selective", False),
        "insertion_order": world.get("order", 100),
        "enabled": not world.get("disable", False),
        "position": "before_char" if position == 0 else "after_char",
    }
    if isinstance(world.get("caseSensitive"), bool):
        entry["case_sensitive"] = world["caseSensitive"]
    entry["extensions"] = {
        _RENAMED.get(key, key): value for key, value in world.items() if key not in _CORE_ALL
    }
    return entry


def _to_world_entry(index: int, entry: dict[str, Any]) -> dict[str, Any]:
    extensions = entry.get("extensions")
    ext: dict[str, Any] = extensions if isinstance(extensions, dict) else {}
    if "position" in ext:
        position = ext["position"]
    else:
        position = 1 if entry.get("position") == "after_char" else 0
    world: dict[str, Any] = {
        "uid": entry.get("id", index),
        "key": entry.get("keys", []),
        "keysecondary": entry.get("secondary_keys", []),
        "comment": entry.get("comment", entry.get("name", "")),
        "content": entry.get("content", ""),
        "constant": entry.get("constant", False),
        "selective": entry.get("selective", False),
        "order": entry.get("insertion_order", 100),
        "position": position,
        "disable": not entry.get("enabled", True),
    }
    if isinstance(entry.get("case_sensitive"), bool) and "case_sensitive" not in ext:
        world["caseSensitive"] = entry["case_sensitive"]
    for key, value in ext.items():
        world.setdefault(_UNRENAMED.get(key, key), value)
    return world
