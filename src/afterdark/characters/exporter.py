"""Export a character as a card file: JSON, PNG (``chara`` and ``ccv3``) or CharX.

Exporting an unedited imported card in the container and version it came in gives back
the file's own bytes. Otherwise the card is patched over the imported JSON (see cardmap),
so fields nobody edited keep their exact form.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.characters import avatars, catalogue
from afterdark.characters.cardmap import EDITABLE_FIELDS, export_card, fields_from_card
from afterdark.characters.cards import Spec, convert, dump_card, write_charx, write_png
from afterdark.characters.cards.charx import CharxMember
from afterdark.characters.models import Character, CharacterAsset
from afterdark.characters.service import assets_of
from afterdark.characters.versions import fields_of
from afterdark.errors import InvalidInputError
from afterdark.store.files import FileStore

Container = Literal["json", "png", "charx"]
ICON_PATH = "assets/icon/images/main.png"
MEDIA_TYPES = {"json": "application/json", "png": "image/png", "charx": "application/zip"}


@dataclass
class ExportedCard:
    filename: str
    media_type: str
    data: bytes


def is_unedited(character: Character) -> bool:
    """True when the character's fields still equal those of the card it was imported from."""
    if character.card_text is None or character.card_spec is None:
        return False
    base = fields_from_card(json.loads(character.card_text), _spec(character.card_spec))
    current = fields_of(character)
    return all(current.get(key) == base.get(key) for key in EDITABLE_FIELDS)


def _spec(value: str) -> Spec:
    if value not in ("v1", "v2", "v3"):
        raise InvalidInputError(f"Unknown card version {value!r}: use v1, v2 or v3.")
    return value  # type: ignore[return-value]


def card_json(character: Character, spec: Spec) -> tuple[str, dict[str, Any]]:
    """The card's JSON text and object in ``spec``."""
    original_spec = _spec(character.card_spec) if character.card_spec else None
    if character.card_text is not None and spec == original_spec and is_unedited(character):
        return character.card_text, json.loads(character.card_text)
    card = export_card(
        fields_of(character), spec, original=character.card_text, original_spec=original_spec
    )
    return dump_card(card), card


async def export_character(
    session: AsyncSession,
    files: FileStore,
    character: Character,
    container: Container,
    spec: Spec | None = None,
) -> ExportedCard:
    """The character as a card file."""
    spec = spec or (_spec(character.card_spec) if character.card_spec else "v3")
    if container == "charx" and spec != "v3":
        raise InvalidInputError("CharX holds V3 cards only: export as v3, or pick JSON or PNG.")
    if container not in MEDIA_TYPES:
        raise InvalidInputError("Export as json, png or charx.")
    assets = await assets_of(session, character)
    same_source = character.card_container == container and character.card_spec == spec
    name = _filename(character.name, container)
    # The original PNG as it came, unless fields were edited or a new picture was uploaded.
    if (
        same_source
        and container == "png"
        and not _first(assets, "avatar")
        and is_unedited(character)
    ):
        original = _first(assets, "card_png")
        if original is not None:
            data = await files.load(session, original.file_key, owner=character.owner_id)
            return ExportedCard(name, MEDIA_TYPES["png"], data)
    text, card = card_json(character, spec)
    if container == "json":
        return ExportedCard(name, MEDIA_TYPES["json"], text.encode("utf-8"))
    if container == "png":
        image = await _base_image(session, files, character, assets)
        if spec == "v3":
            data = write_png(image, chara=dump_card(convert(card, "v2")), ccv3=text)
        else:
            data = write_png(image, chara=text, ccv3=None)
        return ExportedCard(name, MEDIA_TYPES["png"], data)
    members = [
        CharxMember(a.path, await files.load(session, a.file_key, owner=character.owner_id))
        for a in assets
        if a.role == "member"
    ]
    if not members:
        image = await _base_image(session, files, character, assets)
        text, members = _with_icon(card, text, image)
    return ExportedCard(name, MEDIA_TYPES["charx"], write_charx(text, members))


def _with_icon(card: dict[str, Any], text: str, image: bytes) -> tuple[str, list[CharxMember]]:
    """A CharX of a card that had no archive: its picture becomes the main icon."""
    body = card.get("data")
    if not isinstance(body, dict) or body.get("assets"):
        return text, []
    body["assets"] = [
        {"type": "icon", "uri": f"embeded://{ICON_PATH}", "name": "main", "ext": "png"}
    ]
    return dump_card(card), [CharxMember(ICON_PATH, image)]


def _first(assets: list[CharacterAsset], role: str) -> CharacterAsset | None:
    return next((a for a in assets if a.role == role), None)


async def _base_image(
    session: AsyncSession, files: FileStore, character: Character, assets: list[CharacterAsset]
) -> bytes:
    """The picture a PNG card is written into: its own PNG, an avatar, or its portrait."""
    for role in ("avatar", "card_png"):
        asset = _first(assets, role)
        if asset is not None:
            return avatars.as_png(
                await files.load(session, asset.file_key, owner=character.owner_id)
            )
    icon = next(
        (a for a in assets if a.role == "member" and a.media_type in avatars.IMAGE_TYPES.values()),
        None,
    )
    if icon is not None:
        return avatars.as_png(await files.load(session, icon.file_key, owner=character.owner_id))
    if character.avatar_path and (portrait := catalogue.portrait_bytes(character.avatar_path)):
        return portrait
    return avatars.generated_portrait(character.name)


def _filename(name: str, container: str) -> str:
    # Letters of any script are kept (the download header carries them as UTF-8).
    stem = re.sub(r"[\\/:*?\"<>|\x00-\x1f\s]+", "_", name).strip("._") or "character"
    return f"{stem[:80]}.{container}"
