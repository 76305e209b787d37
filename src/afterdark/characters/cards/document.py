"""A parsed character card: its JSON text as found, the parsed object, and its spec version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from afterdark.characters.cards.errors import CardError
from afterdark.characters.cards.jsontext import decode_utf8, dump_json, load_json_object
from afterdark.characters.cards.limits import DEFAULT_LIMITS, CardLimits

Spec = Literal["v1", "v2", "v3"]

SPEC_NAMES: dict[Spec, str] = {"v2": "chara_card_v2", "v3": "chara_card_v3"}
SPEC_VERSIONS: dict[Spec, str] = {"v2": "2.0", "v3": "3.0"}
V1_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")


@dataclass
class CardDocument:
    text: str
    data: dict[str, Any]
    spec: Spec
    spec_version: str

    def is_newer_than_supported(self) -> bool:
        """True for a V3 card whose spec_version is above 3.0 (imported, but worth a warning)."""
        return self.spec == "v3" and bool(self.spec_version) and float(self.spec_version) > 3.0


def parse_card(raw: str | bytes, limits: CardLimits = DEFAULT_LIMITS) -> CardDocument:
    """Parse card JSON text (V1, V2 or V3) and say which spec it follows."""
    text = decode_utf8(raw, "card JSON") if isinstance(raw, bytes) else raw.removeprefix("\ufeff")
    data = load_json_object(text, limits)
    spec = detect_spec(data)
    return CardDocument(text=text, data=data, spec=spec, spec_version=_spec_version(data, spec))


def detect_spec(data: dict[str, Any]) -> Spec:
    """Which card spec a parsed JSON object follows; CardError when it is not a card."""
    spec = data.get("spec")
    if spec is None:
        if isinstance(data.get("name"), str):
            return "v1"
        if isinstance(data.get("entries"), dict):
            raise CardError("this is a SillyTavern world-info lorebook, not a character card")
        raise CardError("not a character card: no 'spec' and no 'name'")
    if spec == "chara_card_v2":
        found: Spec = "v2"
    elif spec == "chara_card_v3":
        found = "v3"
    elif isinstance(spec, str) and spec.startswith("lorebook"):
        raise CardError(f"this is a lorebook (spec '{spec}'), not a character card")
    else:
        raise CardError(f"unsupported card spec {_short(spec)}")
    inner = data.get("data")
    if not isinstance(inner, dict):
        raise CardError(f"{SPEC_NAMES[found]} card has no 'data' object")
    if not isinstance(inner.get("name"), str):
        raise CardError(f"{SPEC_NAMES[found]} card has no 'data.name' string")
    return found


def _spec_version(data: dict[str, Any], spec: Spec) -> str:
    if spec == "v1":
        return ""
    raw = data.get("spec_version")
    if raw is None:
        return ""
    version = raw if isinstance(raw, str) else repr(raw)
    if spec == "v3":
        try:
            float(version)
        except ValueError:
            raise CardError(f"V3 card has spec_version {_short(raw)}; expected a number") from None
    return version


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def card_fields(doc: CardDocument) -> dict[str, Any]:
    """The object holding the card fields: ``data`` for V2/V3, the root for V1."""
    if doc.spec == "v1":
        return doc.data
    inner: dict[str, Any] = doc.data["data"]
    return inner


def card_field(doc: CardDocument, name: str, default: Any = None) -> Any:
    """One card field (``name``, ``description``, ...) wherever the card's spec keeps it."""
    return card_fields(doc).get(name, default)


def dump_card(data: dict[str, Any]) -> str:
    """Card JSON as we write it: deterministic, two-space indent, UTF-8 characters kept."""
    return dump_json(data)
