"""Standalone lorebooks: V3 and SillyTavern world info, and the mapping between them."""

from __future__ import annotations

import json

import pytest

from afterdark.characters.cards import (
    CardError,
    LorebookDocument,
    as_book,
    book_to_sillytavern,
    lorebook_v3,
    read_lorebook,
    sillytavern_to_book,
    write_lorebook,
)
from tests.characters.cards.builders import luna_v3, ordered

MODERN_ENTRY = {
    "uid": 7,
    "key": ["harbour"],
    "keysecondary": ["night"],
    "comment": "Harbour",
    "content": "The harbour lights stay on all night.",
    "constant": False,
    "vectorized": False,
    "selective": True,
    "selectiveLogic": 2,
    "addMemo": True,
    "order": 50,
    "position": 4,
    "disable": True,
    "excludeRecursion": True,
    "preventRecursion": False,
    "delayUntilRecursion": False,
    "probability": 80,
    "useProbability": True,
    "depth": 2,
    "group": "town",
    "groupOverride": False,
    "groupWeight": 100,
    "scanDepth": None,
    "caseSensitive": True,
    "matchWholeWords": None,
    "useGroupScoring": None,
    "automationId": "",
    "role": 1,
    "sticky": 0,
    "cooldown": 0,
    "delay": 0,
    "displayIndex": 3,
    "someFutureField": {"x": [1]},
}


def test_modern_world_entry_maps_and_comes_back() -> None:
    world = {"entries": {"7": MODERN_ENTRY}, "originalData": {"name": "Town"}}
    book = sillytavern_to_book(world, name="Town")
    assert book["name"] == "Town"
    assert book["extensions"] == {"originalData": {"name": "Town"}}
    entry = book["entries"][0]
    assert entry["id"] == 7
    assert entry["keys"] == ["harbour"]
    assert entry["secondary_keys"] == ["night"]
    assert entry["selective"] is True
    assert entry["enabled"] is False
    assert entry["insertion_order"] == 50
    assert entry["position"] == "after_char"
    assert entry["case_sensitive"] is True
    ext = entry["extensions"]
    assert ext["position"] == 4
    assert ext["depth"] == 2
    assert ext["probability"] == 80
    assert ext["exclude_recursion"] is True
    assert ext["group_override"] is False
    assert ext["display_index"] == 3
    assert ext["selectiveLogic"] == 2
    assert ext["role"] == 1
    assert ext["someFutureField"] == {"x": [1]}
    back = book_to_sillytavern(book)
    assert back["entries"]["7"] == MODERN_ENTRY
    assert back["originalData"] == {"name": "Town"}
    assert back["name"] == "Town"


def test_book_to_world_from_a_spec_book() -> None:
    book = luna_v3()["data"]["character_book"]
    world = book_to_sillytavern(book)
    entry = world["entries"]["0"]
    assert entry["key"] == ["Celestia", "celestial", "celestials"]
    assert entry["position"] == 1
    assert entry["disable"] is False
    assert entry["order"] == 100
    assert entry["caseSensitive"] is False
    assert world["name"] == "Luna's World"
    assert world["scan_depth"] == 2
    again = sillytavern_to_book(world)
    assert again["scan_depth"] == 2
    assert again["token_budget"] == 512
    assert again["entries"][0]["content"] == book["entries"][0]["content"]


def test_repeated_ids_keep_every_entry() -> None:
    book = {"entries": [{"id": 1, "keys": ["a"]}, {"id": 1, "keys": ["b"]}], "extensions": {}}
    world = book_to_sillytavern(book)
    assert [e["key"] for e in world["entries"].values()] == [["a"], ["b"]]
    assert all(str(e["uid"]) == k for k, e in world["entries"].items())


def test_read_v3_lorebook_and_write_it() -> None:
    wrapped = lorebook_v3(luna_v3()["data"]["character_book"])
    doc = read_lorebook(json.dumps(wrapped).encode())
    assert doc.kind == "v3"
    assert as_book(doc) == wrapped["data"]
    again = read_lorebook(write_lorebook(doc))
    assert ordered(again.data) == ordered(wrapped)
    assert isinstance(again, LorebookDocument)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (luna_v3(), "character card, not a lorebook"),
        ({"name": "Ren", "description": "x"}, "character card, not a lorebook"),
        ({"spec": "lorebook_v3", "data": {}}, "no 'data.entries' array"),
        ({"entries": {"0": "text"}}, "must be an object"),
        ({"entries": []}, "not a lorebook"),
    ],
)
def test_read_lorebook_refusals(data: dict[str, object], message: str) -> None:
    with pytest.raises(CardError, match=message):
        read_lorebook(json.dumps(data).encode())


def test_read_lorebook_bad_bytes() -> None:
    with pytest.raises(CardError, match="lorebook file is not valid UTF-8"):
        read_lorebook(b'{"entries": "\xff"}')
    with pytest.raises(CardError, match="lorebook JSON is nested deeper than 100 levels"):
        read_lorebook(b'{"entries": ' + b"[" * 5000 + b"]" * 5000 + b"}")
