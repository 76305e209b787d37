"""parse_card: spec detection, text kept as found, limits, and clear refusals."""

from __future__ import annotations

import json

import pytest

from afterdark.characters.cards import (
    CardError,
    CardLimits,
    card_field,
    detect_spec,
    dump_card,
    parse_card,
    read_json_card,
)
from tests.characters.cards.builders import luna_v3, ordered

V1 = {
    "name": "Mara",
    "description": "Mara is a 31-year-old lighthouse keeper.",
    "personality": "dry, kind",
    "scenario": "",
    "first_mes": "Storm's coming.",
    "mes_example": "",
}


def test_bare_v1_json() -> None:
    doc = read_json_card(json.dumps(V1).encode())
    assert (doc.spec, doc.spec_version) == ("v1", "")
    assert card_field(doc, "description") == V1["description"]
    assert card_field(doc, "creator", "-") == "-"


def test_text_is_kept_exactly_and_bom_is_dropped() -> None:
    text = '{\n\t"name": "Ada",  "x": 1.50}\r\n'
    assert parse_card(text).text == text
    assert parse_card("\ufeff" + text).text == text
    assert parse_card(b"\xef\xbb\xbf" + text.encode()).text == text


def test_key_order_is_kept() -> None:
    data = {"name": "Z", "zeta": 1, "alpha": {"b": 1, "a": 2}}
    assert ordered(parse_card(json.dumps(data)).data) == ordered(data)


def test_v2_and_v3_detection() -> None:
    v3 = luna_v3()
    doc = parse_card(json.dumps(v3))
    assert (doc.spec, doc.spec_version) == ("v3", "3.0")
    assert not doc.is_newer_than_supported()
    v3["spec_version"] = "3.1"
    newer = parse_card(json.dumps(v3))
    assert newer.spec_version == "3.1"
    assert newer.is_newer_than_supported()
    v2 = {"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "B"}}
    assert parse_card(json.dumps(v2)).spec == "v2"
    v2["spec_version"] = 2.0
    assert parse_card(json.dumps(v2)).spec_version == "2.0"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"spec": "lorebook_v3", "data": {"entries": []}}, "lorebook .* not a character card"),
        ({"entries": {"0": {}}}, "world-info lorebook, not a character card"),
        ({"spec": "chara_card_v9", "data": {"name": "x"}}, "unsupported card spec 'chara_card_v9'"),
        ({"description": "no name"}, "no 'spec' and no 'name'"),
        ({"spec": "chara_card_v2", "data": []}, "no 'data' object"),
        ({"spec": "chara_card_v3", "data": {"name": 5}}, "no 'data.name' string"),
        (
            {"spec": "chara_card_v3", "spec_version": "three", "data": {"name": "x"}},
            "spec_version 'three'",
        ),
    ],
)
def test_refusals(data: dict[str, object], message: str) -> None:
    with pytest.raises(CardError, match=message):
        parse_card(json.dumps(data))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "must be an object, not an array"),
        ('"x"', "must be an object, not a string"),
        ("null", "must be an object, not null"),
        ('{"name": "x",}', "not valid JSON"),
        ('{"name": NaN}', "NaN"),
        ('{"name": "x", "n": 1' + "0" * 5000 + "}", "not valid JSON"),
        ("", "not valid JSON"),
    ],
)
def test_bad_json(text: str, message: str) -> None:
    with pytest.raises(CardError, match=message):
        parse_card(text)


def test_depth_limit_ignores_brackets_inside_strings() -> None:
    brackets = "[" * 500 + "{" * 500
    doc = parse_card(json.dumps({"name": brackets, "k": [[["ok"]]]}))
    assert card_field(doc, "name") == brackets
    nested = '{"name": "x", "a": ' + "[" * 100 + "]" * 100 + "}"
    with pytest.raises(CardError, match="card JSON is nested deeper than 100 levels"):
        parse_card(nested)
    assert parse_card(nested, CardLimits(max_json_depth=101)).data["name"] == "x"


def test_json_nested_ten_thousand_deep() -> None:
    deep = '{"name": "x", "a": ' + "[" * 10_000 + "]" * 10_000 + "}"
    with pytest.raises(CardError, match="nested deeper than 100 levels"):
        read_json_card(deep.encode())
    # Even with the scan disabled, the parser's recursion is caught.
    with pytest.raises(CardError, match="nested"):
        parse_card(deep, CardLimits(max_json_depth=10**9))


def test_invalid_utf8_and_utf16() -> None:
    with pytest.raises(CardError, match=r"not valid UTF-8 \(bad byte at offset 10\)"):
        read_json_card(b'{"name": "\xc3\x28"}')
    with pytest.raises(CardError, match="UTF-16"):
        read_json_card('{"name": "x"}'.encode("utf-16"))


def test_json_file_size_limits() -> None:
    with pytest.raises(CardError, match="file is 101 bytes; the limit is 100 bytes"):
        read_json_card(b" " * 101, CardLimits(max_file_bytes=100))
    with pytest.raises(CardError, match="card JSON is 2048 bytes; the limit is 1 KiB"):
        read_json_card(b" " * 2048, CardLimits(max_text_chunk_bytes=1024))


def test_detect_spec_of_plain_dicts() -> None:
    assert detect_spec(V1) == "v1"
    assert detect_spec(luna_v3()) == "v3"


def test_dump_card_is_deterministic_and_readable() -> None:
    data = {"name": "Ünï\u00a0", "n": [1, {"b": 2, "a": 1}]}
    text = dump_card(data)
    assert text == json.dumps(data, ensure_ascii=False, indent=2)
    assert dump_card(json.loads(text)) == text
    # A lone surrogate from an escape is escaped again, so the text encodes as UTF-8.
    odd = parse_card('{"name": "\\ud800x"}')
    assert dump_card(odd.data).encode("utf-8") == b'{\n  "name": "\\ud800x"\n}'
    with pytest.raises(CardError, match="cannot be written"):
        dump_card({"name": float("nan")})
