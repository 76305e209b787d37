"""The lorebook engine, one semantic at a time (SillyTavern world info and V3 decorators)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from afterdark.characters.cards import sillytavern_to_book
from afterdark.memory.lorebook import DepthInsert, ScanInput, Timers, activate
from afterdark.memory.lorebook.decorators import parse
from tests.support.shared import CARDS

_ids = iter(range(1, 10**6))


def entry(content: str, keys: list[str] | None = None, **fields: Any) -> dict[str, Any]:
    ext = fields.pop("ext", {})
    return {
        "id": fields.pop("id", next(_ids)),
        "keys": keys or [],
        "content": content,
        "enabled": True,
        "insertion_order": fields.pop("order", 100),
        "extensions": ext,
        **fields,
    }


def book(*entries: dict[str, Any], **root: Any) -> dict[str, Any]:
    return {"entries": list(entries), "extensions": {}, **root}


def run(lore: dict[str, Any], *messages: str, **options: Any) -> Any:
    scan = ScanInput(list(messages), greeting=options.pop("greeting", None))
    return activate(lore, scan, **options)


def texts(result: Any) -> list[str]:
    return result.before + result.after + [d.text for d in result.at_depth]


# --- keys -------------------------------------------------------------------------------------


def test_plain_keys_are_case_insensitive_whole_words_by_default() -> None:
    lore = book(entry("CAT", ["cat"]), entry("SEA", ["open sea"]))
    assert texts(run(lore, "A Cat sleeps.")) == ["CAT"]
    assert texts(run(lore, "A category error.")) == []  # not a whole word
    assert texts(run(lore, "Out on the OPEN SEA.")) == ["SEA"]


def test_case_sensitivity_and_whole_words_per_entry() -> None:
    lore = book(
        entry("EXACT", ["Rose"], case_sensitive=True),
        entry("PART", ["cat"], ext={"match_whole_words": False}),
    )
    assert texts(run(lore, "a rose")) == []
    assert texts(run(lore, "a Rose")) == ["EXACT"]
    assert texts(run(lore, "a category")) == ["PART"]
    assert texts(run(lore, "a rose", case_sensitive=True, whole_words=False)) == []


def test_regex_keys() -> None:
    lore = book(
        entry("DRAGON", ["/dragons?\\b/i"]),
        entry("BROKEN", ["/([a-z/"]),
        entry("V3", ["^moon(light)?$"], use_regex=True),
    )
    assert texts(run(lore, "Two DRAGONS fly.")) == ["DRAGON"]
    assert texts(run(lore, "([a-z")) == []  # an invalid pattern matches nothing
    assert texts(run(lore, "Moonlight")) == ["V3"]
    assert texts(run(lore, "the moonlight")) == []


@pytest.mark.parametrize(
    ("logic", "text", "expected"),
    [
        (0, "king crown", True),  # AND ANY: one secondary is enough
        (0, "king alone", False),
        (1, "king crown", True),  # NOT ALL: not every secondary
        (1, "king crown throne", False),
        (2, "king alone", True),  # NOT ANY: no secondary at all
        (2, "king throne", False),
        (3, "king crown throne", True),  # AND ALL: every secondary
        (3, "king crown", False),
    ],
)
def test_secondary_key_logic(logic: int, text: str, expected: bool) -> None:
    lore = book(
        entry(
            "KING",
            ["king"],
            secondary_keys=["crown", "throne"],
            selective=True,
            ext={"selectiveLogic": logic},
        )
    )
    assert texts(run(lore, text)) == (["KING"] if expected else [])


def test_scan_depth_of_the_book_and_of_an_entry() -> None:
    lore = book(entry("OLD", ["lantern"]), entry("DEEP", ["anchor"], ext={"scan_depth": 5}))
    chat = ["lantern and anchor", "b", "c", "d"]
    assert texts(run(lore, *chat)) == ["DEEP"]  # the book scans 2 messages by default
    assert texts(run({**lore, "scan_depth": 4}, *chat)) == ["OLD", "DEEP"]
    assert texts(run({**lore, "scan_depth": 0}, *chat)) == ["DEEP"]


def test_constant_and_disabled_entries() -> None:
    lore = book(
        entry("ALWAYS", constant=True),
        entry("OFF", ["x"], enabled=False),
        entry("OFF TOO", ["x"], ext={"disable": True}),
    )
    assert texts(run(lore, "x")) == ["ALWAYS"]


# --- recursion --------------------------------------------------------------------------------


def test_recursion_follows_content_up_to_the_limit() -> None:
    chain = book(
        entry("The harbour has a lighthouse.", ["harbour"], order=1),
        entry("The lighthouse keeper is called Ada.", ["lighthouse"], order=2),
        entry("Ada keeps a ledger.", ["ada"], order=3),
        recursive_scanning=True,
    )
    found = texts(run(chain, "We reach the harbour."))
    assert found == [
        "The harbour has a lighthouse.",
        "The lighthouse keeper is called Ada.",
        "Ada keeps a ledger.",
    ]
    assert len(texts(run(chain, "We reach the harbour.", max_recursion=1))) == 2
    flat = {**chain, "recursive_scanning": False}
    assert texts(run(flat, "We reach the harbour.")) == ["The harbour has a lighthouse."]


def test_exclude_prevent_and_delay_recursion() -> None:
    def lore(prevent: bool) -> dict[str, Any]:
        return book(
            entry("A mentions the bell and the horn.", ["start"], order=1),
            entry("BELL", ["bell"], order=2, ext={"exclude_recursion": True}),
            entry("HORN calls the drum", ["horn"], order=3, ext={"prevent_recursion": prevent}),
            entry("DRUM", ["drum"], order=4, ext={"delay_until_recursion": True}),
            recursive_scanning=True,
        )

    # BELL is excluded from recursion; HORN's content is kept out of the scan, so no DRUM.
    assert texts(run(lore(True), "start")) == [
        "A mentions the bell and the horn.",
        "HORN calls the drum",
    ]
    # Without prevent, HORN's content reaches DRUM on the second step.
    assert texts(run(lore(False), "start"))[-1] == "DRUM"
    # A delayed entry does not activate from the chat alone...
    assert texts(run(lore(False), "drum")) == []
    # ...and an excluded one still activates from the chat itself.
    assert "BELL" in texts(run(lore(True), "start bell"))


# --- placement and order ----------------------------------------------------------------------


def test_positions_depth_role_and_order() -> None:
    lore = book(
        entry("SECOND", ["k"], order=20, position="before_char"),
        entry("FIRST", ["k"], order=10, position="before_char"),
        entry("AFTER", ["k"], position="after_char"),
        entry("DEPTH", ["k"], ext={"position": 4, "depth": 2, "role": 1}),
        entry("AN", ["k"], ext={"position": 2}),
    )
    result = run(lore, "k")
    assert result.before == ["FIRST", "SECOND"]
    assert result.after == ["AFTER", "AN"]
    assert result.at_depth == [DepthInsert(2, "user", "DEPTH")]


def test_decorators_place_entries() -> None:
    lore = book(
        entry("@@depth 0\n@@role assistant\nPREFILL", ["k"]),
        entry("@@position after_desc\nAFTER", ["k"], position="before_char"),
        entry("@@position before_desc\nBEFORE", ["k"], position="after_char"),
    )
    result = run(lore, "k")
    assert result.at_depth == [DepthInsert(0, "assistant", "PREFILL")]
    assert (result.before, result.after) == (["BEFORE"], ["AFTER"])


# --- probability, groups, budget --------------------------------------------------------------


def test_probability_is_rolled_with_the_given_random_source() -> None:
    lore = book(
        entry("NEVER", ["k"], ext={"probability": 0, "useProbability": True}),
        entry("HALF", ["k"], ext={"probability": 50, "useProbability": True}),
        entry("IGNORED", ["k"], ext={"probability": 0, "useProbability": False}),
    )
    rng = random.Random(7)
    seen = [texts(run(lore, "k", rng=rng)) for _ in range(400)]
    assert all("NEVER" not in s and "IGNORED" in s for s in seen)
    half = sum("HALF" in s for s in seen)
    assert 150 < half < 250
    assert [texts(run(lore, "k", rng=random.Random(1))) for _ in range(3)] == [
        texts(run(lore, "k", rng=random.Random(1)))
    ] * 3


def test_inclusion_groups() -> None:
    override = book(
        entry("LOW", ["k"], order=1, ext={"group": "weather"}),
        entry("HIGH", ["k"], order=2, ext={"group": "weather", "group_override": True}),
        entry("OTHER", ["k"], ext={"group": "mood"}),
    )
    assert sorted(texts(run(override, "k"))) == ["HIGH", "OTHER"]

    weighted = book(
        entry("RARE", ["k"], ext={"group": "g", "group_weight": 1}),
        entry("COMMON", ["k"], ext={"group": "g", "group_weight": 99}),
    )
    rng = random.Random(3)
    picks = [texts(run(weighted, "k", rng=rng)) for _ in range(300)]
    assert all(len(p) == 1 for p in picks)
    assert sum(p == ["COMMON"] for p in picks) > 270

    scored = book(
        entry("ONE KEY", ["rain"], ext={"group": "g", "use_group_scoring": True}),
        entry("TWO KEYS", ["rain", "cloud"], ext={"group": "g", "use_group_scoring": True}),
    )
    assert texts(run(scored, "rain cloud", rng=random.Random(0))) == ["TWO KEYS"]


def test_token_budget_drops_the_lowest_priority_first() -> None:
    lore = book(
        entry("a" * 40, ["k"], priority=1, order=1),
        entry("b" * 40, ["k"], priority=9, order=2),
        entry("@@ignore_on_max_context\n" + "c" * 40, ["k"], priority=99, order=3),
        token_budget=20,
    )
    result = run(lore, "k")  # 10 tokens each by the default count
    assert texts(result) == ["a" * 40, "b" * 40]
    assert len(result.over_budget) == 1
    assert texts(run(lore, "k", budget=10)) == ["b" * 40]


# --- timers -----------------------------------------------------------------------------------


def test_sticky_cooldown_and_delay() -> None:
    lore = book(
        entry("STICKY", ["bell"], id="s", ext={"sticky": 2}),
        entry("COOL", ["horn"], id="c", ext={"cooldown": 2}),
        entry("LATE", ["drum"], id="d", ext={"delay": 3}),
    )
    timers = Timers()
    chat = ["bell horn drum"]
    first = run(lore, *chat, timers=timers)
    assert texts(first) == ["STICKY", "COOL"]  # LATE waits for 3 messages
    # The next two messages mention nothing: STICKY stays, COOL cools down.
    chat += ["quiet"]
    second = run(lore, *chat, timers=first.timers)
    assert texts(second) == ["STICKY"]
    chat += ["horn drum"]
    third = run(lore, *chat, timers=second.timers)
    assert texts(third) == ["STICKY", "LATE"]  # COOL is still cooling; LATE may go now
    chat += ["horn"]
    fourth = run(lore, *chat, timers=third.timers)
    assert texts(fourth) == ["COOL", "LATE"]  # cooled down; STICKY's span is over
    assert Timers.from_json(json.loads(json.dumps(fourth.timers.to_json()))) == fourth.timers


def test_keep_and_dont_activate_after_match() -> None:
    lore = book(
        entry("@@keep_activate_after_match\nKEEP", ["once"], id="k"),
        entry("@@dont_activate_after_match\nONCE", ["once"], id="o"),
    )
    first = run(lore, "once")
    assert texts(first) == ["KEEP", "ONCE"]
    later = run(lore, "once", "nothing", "once", timers=first.timers)
    assert texts(later) == ["KEEP"]


# --- decorators -------------------------------------------------------------------------------


def test_activation_decorators() -> None:
    lore = book(
        entry("@@activate\nFORCED", ["never said"]),
        entry("@@dont_activate\nBLOCKED", ["k"]),
        entry("@@additional_keys rain,snow\n@@additional_keys cold\nWINTER", ["k"]),
        entry("@@exclude_keys summer\nNOT SUMMER", ["k"]),
    )
    assert sorted(texts(run(lore, "k rain cold"))) == ["FORCED", "NOT SUMMER", "WINTER"]
    assert sorted(texts(run(lore, "k rain"))) == ["FORCED", "NOT SUMMER"]
    assert texts(run(lore, "k summer snow cold")) == ["FORCED", "WINTER"]


def test_turn_and_greeting_decorators() -> None:
    lore = book(
        entry("@@activate_only_after 2\nLATER", ["k"]),
        entry("@@activate_only_every 3\nEVERY", ["k"]),
        entry("@@is_greeting 1\nSECOND GREETING", ["k"]),
    )

    def at(turn: int, greeting: int | None = None) -> list[str]:
        return texts(activate(lore, ScanInput(["k"], greeting=greeting, turn=turn)))

    assert at(1) == []
    assert at(2) == ["LATER"]
    assert at(3) == ["LATER", "EVERY"]
    assert at(1, greeting=1) == ["SECOND GREETING"]
    assert at(1, greeting=0) == []


def test_decorator_fallbacks_and_unknown_ones() -> None:
    decorators, text = parse("@@future_thing 1\n@@@depth 3\n@@role user\n@@@role system\nBody")
    assert decorators.number("depth") == 3  # the fallback stood in for the unknown one
    assert decorators.word("role") == "user"  # known: its fallback is not used
    assert text == "Body"
    decorators, _ = parse("@@nonsense\n@@@also_nonsense\n@@@activate\nx")
    assert decorators.has("activate")
    decorators, _ = parse("@@exclude_keys a\\,b,c\nx")
    assert decorators.values["exclude_keys"] == ["a,b", "c"]


# --- real world info --------------------------------------------------------------------------


def test_a_sillytavern_world_file_activates_by_its_keys() -> None:
    world = json.loads((CARDS / "st_Eldoria_world_info.json").read_text("utf-8"))
    lore = sillytavern_to_book(world)
    quiet = run(lore, "Hello there.")
    assert texts(quiet) == []
    woods = run(lore, "Tell me about the magical forest.")
    assert woods.used
    assert any("Eldoria" in t for t in texts(woods))
