"""Character cards as bare JSON files."""

from __future__ import annotations

from afterdark.characters.cards.document import CardDocument, parse_card
from afterdark.characters.cards.jsontext import check_text_size, decode_utf8
from afterdark.characters.cards.limits import DEFAULT_LIMITS, CardLimits, check_file_size


def read_json_card(data: bytes, limits: CardLimits = DEFAULT_LIMITS) -> CardDocument:
    """Read a card from a JSON file: UTF-8 (a BOM is tolerated), within the text limit."""
    check_file_size(data, limits)
    check_text_size(len(data), limits, "card JSON")
    return parse_card(decode_utf8(data, "card file"), limits)
