"""Property tests: random cards survive every container, and mangled bytes only ever raise
CardError."""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from afterdark.characters.cards import (
    CardError,
    CharxMember,
    dump_card,
    read_card_file,
    read_charx,
    read_png,
    write_charx,
    write_png,
)
from tests.characters.cards.builders import (
    card_png,
    chunk,
    fix_crcs,
    make_zip,
    ordered,
    tiny_png,
)

ROUND_TRIP = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
MUTATION = settings(max_examples=250, deadline=None, database=None)
V1_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")
RESERVED = {"spec", "spec_version", "data", *V1_FIELDS}

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
extra_keys = st.dictionaries(
    st.text(max_size=10).filter(lambda key: key not in RESERVED), json_values, max_size=3
)


@st.composite
def cards(draw: st.DrawFn, specs: tuple[str, ...] = ("v1", "v2", "v3")) -> dict[str, Any]:
    spec = draw(st.sampled_from(specs))
    fields: dict[str, Any] = {name: draw(st.text()) for name in V1_FIELDS}
    if spec == "v1":
        return fields | draw(extra_keys)
    fields |= {
        "tags": draw(st.lists(st.text(max_size=12), max_size=4)),
        "alternate_greetings": draw(st.lists(st.text(), max_size=3)),
        "extensions": draw(st.dictionaries(st.text(max_size=12), json_values, max_size=5)),
    }
    if draw(st.booleans()):
        fields["character_book"] = {
            "extensions": {},
            "entries": [
                {"keys": draw(st.lists(st.text(max_size=8))), "content": draw(st.text()), "id": i}
                for i in range(draw(st.integers(0, 3)))
            ],
        }
    version = "2.0" if spec == "v2" else "3.0"
    envelope = {"spec": f"chara_card_{spec}", "spec_version": version, "data": fields}
    return envelope | draw(extra_keys)


segment = st.text("abcdefghijklmnopqrstuvwxyz0123456789_-.", min_size=1, max_size=8).filter(
    lambda part: part not in (".", "..")
)
member_paths = (
    st.lists(segment, min_size=1, max_size=4).map("/".join).filter(lambda path: path != "card.json")
)
members = st.lists(
    st.tuples(member_paths, st.binary(max_size=300)), max_size=4, unique_by=lambda m: m[0]
).filter(  # a file may not also be used as a folder name
    lambda items: not any(b.startswith(a + "/") for a, _ in items for b, _ in items)
)


@ROUND_TRIP
@given(card=cards(), both=st.booleans())
def test_random_cards_survive_png(card: dict[str, Any], both: bool) -> None:
    text = dump_card(card)
    v3 = card.get("spec") == "chara_card_v3"
    chara = text if not v3 or both else None
    ccv3 = text if v3 else None
    png = read_png(write_png(tiny_png(), chara=chara, ccv3=ccv3))
    assert png.card.text == text
    assert ordered(png.card.data) == ordered(card)
    assert (png.chara, png.ccv3) == (chara, ccv3)


@ROUND_TRIP
@given(card=cards(("v2", "v3")), items=members)
def test_random_cards_survive_charx(card: dict[str, Any], items: list[tuple[str, bytes]]) -> None:
    text = dump_card(card)
    packed = [CharxMember(path, data) for path, data in items]
    charx = read_charx(write_charx(text, packed))
    assert ordered(charx.card.data) == ordered(card)
    assert charx.members == packed
    imported = read_card_file(write_charx(text, packed))
    assert imported.container == "charx"
    assert imported.card.data == card


def small_text(spec: str) -> str:
    card = {"spec": f"chara_card_{spec}", "spec_version": "3.0", "data": {"name": "Ada, 30"}}
    card["data"]["extensions"] = {"nested": [{"a": [1, 2.5, None, True]}], "tags": "x"}
    return dump_card(card)


SEED_PNG = card_png(chara=small_text("v2"), ccv3=small_text("v3"))
SEED_CHARX = write_charx(small_text("v3"), [CharxMember("assets/icon/images/main.png", tiny_png())])

mutations = st.lists(
    st.tuples(
        st.sampled_from(["flip", "set", "insert", "delete", "cut"]),
        st.integers(min_value=0, max_value=2**16),
        st.integers(min_value=0, max_value=255),
    ),
    min_size=1,
    max_size=6,
)


def mutate(data: bytes, ops: list[tuple[str, int, int]]) -> bytes:
    out = bytearray(data)
    for op, where, value in ops:
        pos = where % (len(out) + 1)
        if op == "cut":
            del out[pos:]
        elif op == "insert":
            out[pos:pos] = bytes([value]) * (1 + value % 4)
        elif pos < len(out):
            if op == "flip":
                out[pos] ^= 1 << (value % 8)
            elif op == "set":
                out[pos] = value
            else:
                del out[pos]
    return bytes(out)


def only_card_errors(reader: Any, data: bytes) -> None:
    """Call ``reader``: a CardError with a message is fine, any other exception fails."""
    error: CardError | None = None
    try:
        result = reader(data)
    except CardError as exc:
        error = exc
    if error is not None:
        assert error.message
        event(error.message[:24])
        return
    event("read")
    card = getattr(result, "card", result)
    assert card.spec in ("v1", "v2", "v3")


@MUTATION
@given(ops=mutations, fix=st.booleans())
def test_mangled_png_raises_only_card_error(ops: list[tuple[str, int, int]], fix: bool) -> None:
    data = mutate(SEED_PNG, ops)
    data = fix_crcs(data) if fix else data
    only_card_errors(read_png, data)
    only_card_errors(read_card_file, data)


@MUTATION
@given(ops=mutations)
def test_mangled_card_text_in_a_valid_png_raises_only_card_error(
    ops: list[tuple[str, int, int]],
) -> None:
    text = mutate(small_text("v3").encode(), ops)
    encoded = base64.b64encode(text) if ops[0][2] % 2 else text
    only_card_errors(read_png, tiny_png(extra=chunk(b"tEXt", b"ccv3\0" + encoded)))


@MUTATION
@given(ops=mutations)
def test_mangled_charx_raises_only_card_error(ops: list[tuple[str, int, int]]) -> None:
    data = mutate(SEED_CHARX, ops)
    only_card_errors(read_charx, data)
    only_card_errors(read_card_file, data)


@MUTATION
@given(ops=mutations, stored=st.booleans())
def test_mangled_card_json_in_a_valid_zip_raises_only_card_error(
    ops: list[tuple[str, int, int]], stored: bool
) -> None:
    text = mutate(small_text("v3").encode(), ops)
    data = make_zip([("card.json", text)], method=0 if stored else 8)
    only_card_errors(read_charx, data)
