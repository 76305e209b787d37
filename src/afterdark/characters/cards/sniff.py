"""Read a card file of any supported container, chosen by its first bytes, not its name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from afterdark.characters.cards.charx import CharxMember, read_charx
from afterdark.characters.cards.document import CardDocument
from afterdark.characters.cards.errors import CardError
from afterdark.characters.cards.jsonfile import read_json_card
from afterdark.characters.cards.limits import DEFAULT_LIMITS, CardLimits, check_file_size
from afterdark.characters.cards.png import read_png
from afterdark.characters.cards.pngchunks import PNG_SIGNATURE

Container = Literal["json", "png", "charx"]
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_JSON_START = b"\xef\xbb\xbf \t\r\n"
_OTHER_FORMATS = (
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
)


@dataclass
class ImportedCard:
    container: Container
    card: CardDocument
    image: bytes | None = None  # the whole original PNG, for PNG cards
    members: list[CharxMember] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_card_file(
    data: bytes, filename: str = "", limits: CardLimits = DEFAULT_LIMITS
) -> ImportedCard:
    """Read a PNG, CharX or JSON card; ``filename`` only makes error messages clearer."""
    imported = _read(data, filename, limits)
    if imported.card.is_newer_than_supported():
        version = imported.card.spec_version
        imported.warnings.append(f"card spec_version {version} is newer than 3.0; read as 3.0")
    return imported


def _read(data: bytes, filename: str, limits: CardLimits) -> ImportedCard:
    check_file_size(data, limits)
    if data.startswith(PNG_SIGNATURE):
        png = read_png(data, limits)
        return ImportedCard("png", png.card, image=data, warnings=png.warnings)
    if data.startswith(_ZIP_MAGIC):
        charx = read_charx(data, limits)
        return ImportedCard("charx", charx.card, members=charx.members)
    if data.lstrip(_JSON_START).startswith(b"{"):
        return ImportedCard("json", read_json_card(data, limits))
    raise CardError(f"not a character card: expected PNG, CharX or JSON{_hint(data, filename)}")


def _hint(data: bytes, filename: str) -> str:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return " (WEBP cards are not supported; convert it to PNG)"
    for magic, kind in _OTHER_FORMATS:
        if data.startswith(magic):
            return f" (this is {kind})"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return " (this text is UTF-16; save it as UTF-8)"
    if filename.lower().endswith((".png", ".charx", ".json")):
        return f" ('{filename[-60:]}' does not hold what its name says)"
    return ""
