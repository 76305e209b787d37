"""Character-card codecs: V1/V2/V3 cards in JSON, PNG/APNG and CharX containers.

A pure library (no database, no web). Every reader raises only ``CardError`` for bad input
and bounds the memory and time any input can cost (see ``CardLimits``).
"""

from __future__ import annotations

from afterdark.characters.cards.charx import (
    CharxCard,
    CharxMember,
    embedded_path,
    main_icon,
    read_charx,
    write_charx,
)
from afterdark.characters.cards.convert import convert, strip_decorators, v2_backfill
from afterdark.characters.cards.document import (
    CardDocument,
    Spec,
    card_field,
    card_fields,
    detect_spec,
    dump_card,
    parse_card,
)
from afterdark.characters.cards.errors import CardError
from afterdark.characters.cards.jsonfile import read_json_card
from afterdark.characters.cards.limits import DEFAULT_LIMITS, CardLimits
from afterdark.characters.cards.lorebook import (
    LorebookDocument,
    as_book,
    book_to_sillytavern,
    lorebook_v3,
    read_lorebook,
    sillytavern_to_book,
    write_lorebook,
)
from afterdark.characters.cards.png import PngCard, png_size, read_png, write_png
from afterdark.characters.cards.sniff import Container, ImportedCard, read_card_file

__all__ = [
    "DEFAULT_LIMITS",
    "CardDocument",
    "CardError",
    "CardLimits",
    "CharxCard",
    "CharxMember",
    "Container",
    "ImportedCard",
    "LorebookDocument",
    "PngCard",
    "Spec",
    "as_book",
    "book_to_sillytavern",
    "card_field",
    "card_fields",
    "convert",
    "detect_spec",
    "dump_card",
    "embedded_path",
    "lorebook_v3",
    "main_icon",
    "parse_card",
    "png_size",
    "read_card_file",
    "read_charx",
    "read_json_card",
    "read_lorebook",
    "read_png",
    "sillytavern_to_book",
    "strip_decorators",
    "v2_backfill",
    "write_charx",
    "write_lorebook",
    "write_png",
]
