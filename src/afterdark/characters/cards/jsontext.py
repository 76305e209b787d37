"""JSON text handling shared by every container: strict UTF-8, a nesting bound, no NaN."""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from afterdark.characters.cards.errors import CardError, human_size
from afterdark.characters.cards.limits import CardLimits

_BOM = "\ufeff"
# Escapes go first, so a string is then just quote, non-quotes, quote (or the end of the
# text). Neither pattern repeats a group: the scan stays linear in time and memory.
_ESCAPE = re.compile(r"\\[\s\S]")
_STRING = re.compile(r'"[^"]*"?')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def decode_utf8(data: bytes, what: str) -> str:
    """Decode strict UTF-8 and drop one leading BOM; ``what`` names the text in errors."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CardError(f"{what} is UTF-16; expected UTF-8")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CardError(f"{what} is not valid UTF-8 (bad byte at offset {exc.start})") from None
    return text.removeprefix(_BOM)


def check_text_size(size: int, limits: CardLimits, what: str) -> None:
    """Refuse card text longer than ``limits.max_text_chunk_bytes``."""
    if size > limits.max_text_chunk_bytes:
        limit = human_size(limits.max_text_chunk_bytes)
        raise CardError(f"{what} is {size} bytes; the limit is {limit}")


def json_brackets(text: str) -> str:
    """The brackets of a JSON text that lie outside strings, in order (one linear pass)."""
    return _NOT_BRACKET.sub("", _STRING.sub("", _ESCAPE.sub("", text)))


def bracket_depth(brackets: str) -> int:
    """Deepest nesting reached by a run of brackets."""
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _refuse_constant(name: str) -> Any:
    raise CardError(f"JSON text contains {name}, which JSON does not allow")


def load_json_object(text: str, limits: CardLimits, what: str = "card JSON") -> dict[str, Any]:
    """Parse ``text`` as a JSON object after checking its nesting depth."""
    brackets = json_brackets(text)
    containers = brackets.count("[") + brackets.count("{")
    if containers > limits.max_json_containers:
        limit = f"{limits.max_json_containers:,}"
        raise CardError(f"{what} has {containers:,} objects and arrays; the limit is {limit}")
    if containers > limits.max_json_depth and bracket_depth(brackets) > limits.max_json_depth:
        raise CardError(f"{what} is nested deeper than {limits.max_json_depth} levels")
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise CardError(f"{what} is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise CardError(
            f"{what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise CardError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise CardError(f"{what} must be an object, not {_json_type(value)}")
    return value


def dump_json(value: dict[str, Any]) -> str:
    """Deterministic, readable JSON: two-space indent, non-ASCII kept, key order kept."""
    try:
        text = json.dumps(value, ensure_ascii=False, indent=2, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise CardError(f"card cannot be written as JSON: {exc}") from None
    # A lone surrogate (from a "\ud800" escape) cannot be encoded as UTF-8: escape it again.
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return "a number"
