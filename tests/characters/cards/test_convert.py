"""Spec conversions: V1 <-> V2 <-> V3, decorators, and inputs left untouched."""

from __future__ import annotations

import copy
import json

import pytest

from afterdark.characters.cards import (
    CardError,
    convert,
    read_png,
    strip_decorators,
    v2_backfill,
)
from tests.characters.cards.builders import data_file, luna_v3, ordered

V2_DEFAULT_KEYS = [
    "creator_notes",
    "system_prompt",
    "post_history_instructions",
    "alternate_greetings",
    "tags",
    "creator",
    "character_version",
    "extensions",
]


def skynet() -> dict[str, object]:
    return read_png(data_file("llamacpp-chat-memory_Skynet_v1.png")).card.data


def test_v1_to_v2_wraps_fields_with_defaults_and_keeps_metadata() -> None:
    v1 = skynet()
    before = copy.deepcopy(v1)
    v2 = convert(v1, "v2")
    assert v1 == before
    assert (v2["spec"], v2["spec_version"]) == ("chara_card_v2", "2.0")
    assert list(v2["data"])[:6] == [
        "name",
        "description",
        "personality",
        "scenario",
        "first_mes",
        "mes_example",
    ]
    assert list(v2["data"])[6:] == V2_DEFAULT_KEYS
    assert v2["data"]["name"] == "Skynet"
    assert v2["data"]["extensions"] == {}
    assert v2["data"]["tags"] == []
    assert v2["metadata"] == v1["metadata"]
    assert "name" not in v2  # no hybrid copy


def test_v1_to_v3_adds_group_only_greetings() -> None:
    v3 = convert(skynet(), "v3")
    assert (v3["spec"], v3["spec_version"]) == ("chara_card_v3", "3.0")
    assert v3["data"]["group_only_greetings"] == []


def test_v1_with_null_fields_and_a_null_spec() -> None:
    v2 = convert({"spec": None, "name": "A", "description": None}, "v2")
    assert v2["spec"] == "chara_card_v2"
    assert v2["data"]["description"] == ""
    assert v2["data"]["scenario"] == ""


def seraphina() -> dict[str, object]:
    return read_png(data_file("st_default_Seraphina.png")).card.data


def test_v2_to_v3_keeps_everything_and_adds_defaults() -> None:
    v2 = seraphina()
    before = copy.deepcopy(v2)
    v3 = convert(v2, "v3")
    assert v2 == before
    assert (v3["spec"], v3["spec_version"]) == ("chara_card_v3", "3.0")
    assert v3["chat"] == v2["chat"]
    assert v3["data"]["extensions"] == v2["data"]["extensions"]
    assert v3["data"]["group_only_greetings"] == []
    for old, new in zip(
        v2["data"]["character_book"]["entries"],
        v3["data"]["character_book"]["entries"],
        strict=True,
    ):
        assert new["use_regex"] is False
        assert new["constant"] is False
        assert {k: v for k, v in new.items() if k != "use_regex"} == old


def test_v2_to_v3_to_v2_is_the_original_when_entries_have_constant() -> None:
    v2 = seraphina()
    assert ordered(convert(convert(v2, "v3"), "v2")) == ordered(v2)


def test_v3_to_v2_strips_decorators_and_v3_only_keys() -> None:
    v3 = luna_v3()
    data = v3["data"]
    data.update(
        nickname="Lu",
        source=["https://example.org/luna"],
        creation_date=1700000000,
        modification_date=0,
        creator_notes_multilingual={"fr": "Notes"},
        assets=[{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}],
        group_only_greetings=["Hello, everyone."],
    )
    entry = data["character_book"]["entries"][0]
    entry["content"] = "@@depth 4\n@@@role system\n@@activate_only_after 2\nCelestia floats.\n@@not"
    entry["use_regex"] = False
    entry["x_custom"] = {"keep": True}
    regex_entry = dict(entry, use_regex=True, content="@@dont_activate\r\nRegex lore", id=1)
    data["character_book"]["entries"].append(regex_entry)
    before = copy.deepcopy(v3)
    v2 = v2_backfill(v3)
    assert v3 == before
    assert (v2["spec"], v2["spec_version"]) == ("chara_card_v2", "2.0")
    for key in ("nickname", "source", "creation_date", "modification_date", "assets"):
        assert key not in v2["data"]
    assert "creator_notes_multilingual" not in v2["data"]
    assert "group_only_greetings" not in v2["data"]
    first, second = v2["data"]["character_book"]["entries"]
    assert first["content"] == "Celestia floats.\n@@not"
    assert "use_regex" not in first
    assert first["x_custom"] == {"keep": True}
    assert first["priority"] == 10
    assert first["position"] == "after_char"
    assert second["content"] == "Regex lore"
    assert second["use_regex"] is True
    assert v2 == convert(v3, "v2")


def test_to_v1_keeps_only_the_six_strings() -> None:
    v1 = convert(luna_v3(), "v1")
    assert list(v1) == [
        "name",
        "description",
        "personality",
        "scenario",
        "first_mes",
        "mes_example",
    ]
    assert v1["name"] == "Luna Starweaver"
    assert convert(seraphina(), "v1")["description"].count("\r\n") > 3


@pytest.mark.parametrize("spec", ["v1", "v2", "v3"])
def test_same_spec_returns_an_equal_copy(spec: str) -> None:
    card = {"v1": skynet(), "v2": seraphina(), "v3": luna_v3()}[spec]
    out = convert(card, spec)  # type: ignore[arg-type]
    assert out == card
    assert out is not card
    out["data" if spec != "v1" else "name"] = "changed"
    assert card != out


def test_convert_refuses_what_is_not_a_card() -> None:
    with pytest.raises(CardError, match="lorebook"):
        convert({"spec": "lorebook_v3", "data": {"entries": []}}, "v2")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("@@depth 4\nText", "Text"),
        ("@@depth 4\r\n@@@depth 2\r\nText\r\n", "Text\r\n"),
        ("Text\n@@depth 4", "Text\n@@depth 4"),
        (" @@depth 4\nText", " @@depth 4\nText"),
        ("@@activate", ""),
        ("", ""),
        ("plain", "plain"),
    ],
)
def test_strip_decorators(content: str, expected: str) -> None:
    assert strip_decorators(content) == expected


def test_backfill_is_json_serialisable() -> None:
    assert json.loads(json.dumps(v2_backfill(luna_v3())))["data"]["name"] == "Luna Starweaver"
