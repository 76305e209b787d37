"""Conversions between card specs V1, V2 and V3; inputs are never mutated.

V1 -> V2/V3: the six fields move under ``data`` with the required defaults; any other root
keys (editor metadata and the like) stay at the root, except ``spec``, ``spec_version`` and
``data``. V2 -> V3: spec fields change, ``group_only_greetings`` and the lorebook entries'
``use_regex``/``constant`` are added when missing; nothing is dropped. V3 -> V2 (the
"backfill"): the V3-only keys are dropped and decorators are stripped from lorebook entries
(``use_regex: false`` goes too). V2/V3 -> V1: the six flat strings only.
"""

from __future__ import annotations

import copy
from typing import Any

from afterdark.characters.cards.document import (
    SPEC_NAMES,
    SPEC_VERSIONS,
    V1_FIELDS,
    Spec,
    detect_spec,
)

V2_DEFAULTS: dict[str, Any] = {
    "creator_notes": "",
    "system_prompt": "",
    "post_history_instructions": "",
    "alternate_greetings": [],
    "tags": [],
    "creator": "",
    "character_version": "",
    "extensions": {},
}
V3_ONLY_KEYS = (
    "assets",
    "nickname",
    "creator_notes_multilingual",
    "source",
    "group_only_greetings",
    "creation_date",
    "modification_date",
)


def convert(data: dict[str, Any], spec: Spec) -> dict[str, Any]:
    """A new card object in ``spec``; converting to the card's own spec returns a copy."""
    source = detect_spec(data)
    card = copy.deepcopy(data)
    if source == spec:
        return card
    if spec == "v1":
        return _to_v1(card, source)
    if source == "v1":
        card = _v1_to_v2(card)
        return card if spec == "v2" else _v2_to_v3(card)
    return _v2_to_v3(card) if spec == "v3" else _v3_to_v2(card)


def v2_backfill(v3_data: dict[str, Any]) -> dict[str, Any]:
    """The V2 card written next to a V3 one (the PNG ``chara`` chunk)."""
    return convert(v3_data, "v2")


def strip_decorators(content: str) -> str:
    """Remove the ``@@decorator`` / ``@@@fallback`` lines at the top of a lorebook entry."""
    lines = content.splitlines(keepends=True)
    index = 0
    while index < len(lines) and lines[index].startswith("@@"):
        index += 1
    return "".join(lines[index:])


def _to_v1(card: dict[str, Any], source: Spec) -> dict[str, Any]:
    fields = card if source == "v1" else card["data"]
    return {name: _text(fields.get(name)) for name in V1_FIELDS}


def _v1_to_v2(card: dict[str, Any]) -> dict[str, Any]:
    inner: dict[str, Any] = {name: _text(card.get(name)) for name in V1_FIELDS}
    inner.update(copy.deepcopy(V2_DEFAULTS))
    # A V1 root has no use for these names; keeping them would clash with the V2 envelope.
    envelope = ("spec", "spec_version", "data")
    extra = {k: v for k, v in card.items() if k not in V1_FIELDS and k not in envelope}
    return {"spec": SPEC_NAMES["v2"], "spec_version": SPEC_VERSIONS["v2"], "data": inner} | extra


def _v2_to_v3(card: dict[str, Any]) -> dict[str, Any]:
    card["spec"] = SPEC_NAMES["v3"]
    card["spec_version"] = SPEC_VERSIONS["v3"]
    inner = card["data"]
    inner.setdefault("group_only_greetings", [])
    for entry in _book_entries(inner):
        entry.setdefault("use_regex", False)
        entry.setdefault("constant", False)
    return card


def _v3_to_v2(card: dict[str, Any]) -> dict[str, Any]:
    card["spec"] = SPEC_NAMES["v2"]
    card["spec_version"] = SPEC_VERSIONS["v2"]
    inner = card["data"]
    for key in V3_ONLY_KEYS:
        inner.pop(key, None)
    for entry in _book_entries(inner):
        if isinstance(entry.get("content"), str):
            entry["content"] = strip_decorators(entry["content"])
        if entry.get("use_regex") is False:
            del entry["use_regex"]
    return card


def _book_entries(inner: dict[str, Any]) -> list[dict[str, Any]]:
    book = inner.get("character_book")
    if not isinstance(book, dict) or not isinstance(book.get("entries"), list):
        return []
    return [entry for entry in book["entries"] if isinstance(entry, dict)]


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
