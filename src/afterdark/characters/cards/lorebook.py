"""Standalone lorebook files: V3 (``{"spec": "lorebook_v3", "data": book}``) and SillyTavern
world info; the mapping between the two lives in ``sillytavern``."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Literal

from afterdark.characters.cards.errors import CardError
from afterdark.characters.cards.jsontext import (
    check_text_size,
    decode_utf8,
    dump_json,
    load_json_object,
)
from afterdark.characters.cards.limits import DEFAULT_LIMITS, CardLimits, check_file_size
from afterdark.characters.cards.sillytavern import book_to_sillytavern, sillytavern_to_book

__all__ = [
    "LorebookDocument",
    "LorebookKind",
    "as_book",
    "book_to_sillytavern",
    "lorebook_v3",
    "read_lorebook",
    "sillytavern_to_book",
    "write_lorebook",
]

LorebookKind = Literal["v3", "sillytavern"]
LOREBOOK_SPEC = "lorebook_v3"


@dataclass
class LorebookDocument:
    kind: LorebookKind
    text: str
    data: dict[str, Any]


def read_lorebook(data: bytes, limits: CardLimits = DEFAULT_LIMITS) -> LorebookDocument:
    """Read a V3 lorebook or a SillyTavern world-info file."""
    check_file_size(data, limits)
    check_text_size(len(data), limits, "lorebook JSON")
    text = decode_utf8(data, "lorebook file")
    obj = load_json_object(text, limits, "lorebook JSON")
    return LorebookDocument(kind=_kind(obj), text=text, data=obj)


def _kind(obj: dict[str, Any]) -> LorebookKind:
    spec = obj.get("spec")
    if spec == LOREBOOK_SPEC:
        book = obj.get("data")
        if not isinstance(book, dict) or not isinstance(book.get("entries"), list):
            raise CardError("V3 lorebook has no 'data.entries' array")
        _require_objects(book["entries"])
        return "v3"
    if isinstance(obj.get("entries"), dict):
        _require_objects(list(obj["entries"].values()))
        return "sillytavern"
    if spec in ("chara_card_v2", "chara_card_v3") or (spec is None and "name" in obj):
        raise CardError("this is a character card, not a lorebook")
    raise CardError("not a lorebook: expected a V3 lorebook or a SillyTavern world-info file")


def _require_objects(entries: list[Any]) -> None:
    if not all(isinstance(entry, dict) for entry in entries):
        raise CardError("every lorebook entry must be an object")


def lorebook_v3(book: dict[str, Any]) -> dict[str, Any]:
    """Wrap a ``character_book`` as a standalone V3 lorebook."""
    return {"spec": LOREBOOK_SPEC, "data": copy.deepcopy(book)}


def as_book(doc: LorebookDocument) -> dict[str, Any]:
    """The lorebook as a ``character_book`` object, whichever format it came in."""
    if doc.kind == "v3":
        book: dict[str, Any] = copy.deepcopy(doc.data["data"])
        return book
    return sillytavern_to_book(doc.data)


def write_lorebook(doc: LorebookDocument) -> bytes:
    """The lorebook file bytes (UTF-8 JSON of ``doc.data``)."""
    return dump_json(doc.data).encode("utf-8")
