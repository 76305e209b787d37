"""CharX (``.charx``) cards: a ZIP with a V3 ``card.json`` at its root plus asset files."""

from __future__ import annotations

from dataclasses import dataclass

from afterdark.characters.cards.document import CardDocument, card_field, parse_card
from afterdark.characters.cards.errors import CardError
from afterdark.characters.cards.jsontext import check_text_size
from afterdark.characters.cards.limits import DEFAULT_LIMITS, CardLimits
from afterdark.characters.cards.ziparchive import read_zip, safe_member_path, write_zip

CARD_JSON = "card.json"
# The V3 spec spells the scheme "embeded"; tolerate the correct spelling too.
_EMBEDDED_SCHEMES = ("embeded://", "embedded://")


@dataclass
class CharxMember:
    path: str
    data: bytes


@dataclass
class CharxCard:
    card: CardDocument
    members: list[CharxMember]  # everything but card.json, in archive order


def read_charx(data: bytes, limits: CardLimits = DEFAULT_LIMITS) -> CharxCard:
    """Read a CharX archive: its card.json (V3, or V2) and every other member."""
    if not data.startswith(b"PK"):
        raise CardError("not a CharX file (not a ZIP archive)")
    card_body: bytes | None = None
    members: list[CharxMember] = []
    for path, body in read_zip(data, limits):
        if path == CARD_JSON:
            card_body = body
        else:
            members.append(CharxMember(path, body))
    if card_body is None:
        raise CardError("CharX has no card.json at its root")
    check_text_size(len(card_body), limits, CARD_JSON)
    card = parse_card(card_body, limits)
    if card.spec == "v1":
        raise CardError("CharX card.json is a V1 card; expected V3 (or V2)")
    return CharxCard(card=card, members=members)


def write_charx(card_text: str, members: list[CharxMember]) -> bytes:
    """A CharX archive: ``card_text`` as card.json first, then the members in order."""
    try:
        card_body = card_text.encode("utf-8")
    except UnicodeEncodeError:
        raise CardError("card text is not valid Unicode") from None
    if any(member.path == CARD_JSON for member in members):
        raise CardError("CharX members must not include card.json; pass the card text instead")
    return write_zip([(CARD_JSON, card_body)] + [(m.path, m.data) for m in members])


def embedded_path(uri: str) -> str | None:
    """The member path of an ``embeded://`` asset URI, or None for any other URI."""
    for scheme in _EMBEDDED_SCHEMES:
        if uri.startswith(scheme):
            path = uri[len(scheme) :]
            try:
                safe = safe_member_path(path)
            except CardError:
                return None
            return safe if safe == path else None
    return None


def main_icon(charx: CharxCard) -> CharxMember | None:
    """The member holding the card's main icon asset, when ``assets`` names an embedded one."""
    assets = card_field(charx.card, "assets")
    if not isinstance(assets, list):
        return None
    icons = [a for a in assets if isinstance(a, dict) and a.get("type") == "icon"]
    chosen = next((a for a in icons if a.get("name") == "main"), icons[0] if icons else None)
    uri = chosen.get("uri") if chosen else None
    path = embedded_path(uri) if isinstance(uri, str) else None
    return next((m for m in charx.members if m.path == path), None)
