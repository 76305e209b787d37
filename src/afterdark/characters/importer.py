"""Import character cards (JSON, PNG, CharX; V1, V2, V3) as characters, losslessly.

The card's JSON text is stored exactly as found, beside the fields read from it; a PNG card
is kept whole and a CharX archive member by member, so export can give back what came in.
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
from dataclasses import dataclass
from typing import Any

from annotated_types import MaxLen
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts.models import User
from afterdark.characters import avatars, versions
from afterdark.characters.ages import check_character_age
from afterdark.characters.cardmap import fields_from_card
from afterdark.characters.cards import DEFAULT_LIMITS, CardLimits, ImportedCard, read_card_file
from afterdark.characters.cards.charx import embedded_path
from afterdark.characters.models import Character, CharacterAsset
from afterdark.characters.schemas import CharacterFields
from afterdark.errors import (
    AfterdarkError,
    InvalidInputError,
    PaymentRequiredError,
    PermissionDeniedError,
)
from afterdark.safety import content, moderation
from afterdark.safety.likeness import LikenessGuard, ProtectedLikeness
from afterdark.safety.limits import HardLimits
from afterdark.store.files import FileStore

MAX_FILES_PER_IMPORT = 100


@dataclass
class ImportOutcome:
    filename: str
    character: Character | None = None
    error: str | None = None


@dataclass
class ParsedCard:
    imported: ImportedCard
    fields: dict[str, Any]


def parse_card_file(data: bytes, filename: str, limits: CardLimits = DEFAULT_LIMITS) -> ParsedCard:
    """Read and check a card file (any container, any version) without storing anything."""
    imported = read_card_file(data, filename, limits)
    fields = fields_from_card(imported.card.data, imported.card.spec)
    check_imported_fields(fields)
    return ParsedCard(imported, fields)


def check_imported_fields(fields: dict[str, Any]) -> None:
    """Refuse what the app cannot hold, without changing a byte of what it keeps."""
    if not str(fields["name"]).strip():
        raise InvalidInputError("The card has no name.")
    if len(fields["name"]) > 200:
        raise InvalidInputError("The card's name is longer than 200 characters.")
    if fields["age"] is not None:
        check_character_age(fields["age"], fields["name"])
    for name, info in CharacterFields.model_fields.items():
        caps = [m.max_length for m in info.metadata if isinstance(m, MaxLen)]
        value = fields.get(name)
        if caps and isinstance(value, str | list) and len(value) > caps[0]:
            unit = "items" if isinstance(value, list) else "characters"
            raise InvalidInputError(f"The card's {name} is longer than {caps[0]} {unit}.")


async def import_card(
    session: AsyncSession,
    files: FileStore,
    owner: User | None,
    data: bytes,
    filename: str = "",
    card_limits: CardLimits = DEFAULT_LIMITS,
    *,
    default_age: int | None = None,
    likeness: LikenessGuard | None = None,
    limits: HardLimits | None = None,
) -> Character:
    """One card file as a new character of ``owner`` (None: a built-in one).

    ``default_age`` is given to a card that states no age (a stated one always wins);
    ``likeness`` refuses a card whose picture shows a protected person, ``limits`` one whose
    text breaks a hard limit.
    """
    parsed = parse_card_file(data, filename, card_limits)
    await _check_rating(session, owner, parsed, filename)
    await _check_likeness(likeness, parsed)
    if owner is not None:
        await moderation.screen_character(session, limits, parsed.fields, user_id=owner.id)
    if parsed.fields["age"] is None and default_age is not None:
        check_character_age(default_age, parsed.fields["name"])
        parsed.fields["age"] = default_age
    return await store_card(session, files, owner, parsed, filename)


async def store_card(
    session: AsyncSession,
    files: FileStore,
    owner: User | None,
    parsed: ParsedCard,
    filename: str = "",
) -> Character:
    """Save a parsed card as a character, with its files, thumbnail and first version."""
    imported, fields = parsed.imported, parsed.fields
    character = Character(
        owner_id=owner.id if owner else None,
        version=1,
        card_text=imported.card.text,
        card_spec=imported.card.spec,
        card_container=imported.container,
        **fields,
    )
    session.add(character)
    await session.flush()
    picture = await _store_files(session, files, character, imported)
    if picture is not None:
        await _add_thumbnail(session, files, character, picture)
    versions.record(session, character, f"Imported from {filename or imported.container}")
    await session.flush()
    return character


async def _store_files(
    session: AsyncSession, files: FileStore, character: Character, imported: ImportedCard
) -> bytes | None:
    """Keep the PNG or the CharX members; return the picture to make a thumbnail of."""
    if imported.image is not None:
        await _add_asset(session, files, character, "card_png", "", imported.image, 0)
    for position, member in enumerate(imported.members):
        await _add_asset(session, files, character, "member", member.path, member.data, position)
    return picture_of(imported)


def picture_of(imported: ImportedCard) -> bytes | None:
    """The card's picture: the PNG itself, or a CharX's main icon (else its first image)."""
    if imported.image is not None:
        return imported.image
    icon = _main_icon_path(imported.card.data)
    picture = None
    for member in imported.members:
        if member.path == icon or (icon is None and picture is None and _is_image(member.path)):
            picture = member.data
    return picture


async def _check_likeness(likeness: LikenessGuard | None, parsed: ParsedCard) -> None:
    picture = picture_of(parsed.imported)
    if likeness is not None and picture is not None:
        await likeness.check_import(picture)


async def _add_asset(
    session: AsyncSession,
    files: FileStore,
    character: Character,
    role: str,
    path: str,
    data: bytes,
    position: int,
) -> None:
    media_type = "image/png" if role == "card_png" else _media_type(path)
    file_key = await files.save(session, data, owner=character.owner_id)
    session.add(
        CharacterAsset(
            character_id=character.id,
            role=role,
            path=path,
            media_type=media_type,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            file_key=file_key,
            position=position,
        )
    )


async def _add_thumbnail(
    session: AsyncSession, files: FileStore, character: Character, picture: bytes
) -> None:
    try:
        # Decoding and resizing take ~15 ms: off the event loop, so streams keep flowing.
        small = await asyncio.to_thread(avatars.thumbnail, picture)
    except AfterdarkError:
        return  # a card with an unreadable picture still imports; lists show generated art
    await _add_asset(session, files, character, "thumbnail", "", small, 0)


async def _check_rating(
    session: AsyncSession, owner: User | None, parsed: ParsedCard, filename: str
) -> None:
    """An explicit card joins a user's characters only if they may see explicit content.
    (Restoring an export stores them regardless: they are the user's data, shown once allowed.)"""
    if owner is not None and parsed.fields["rating"] == content.EXPLICIT:
        await content.require_adult(
            session, owner, f"The card {filename or parsed.fields['name']!r}"
        )


def _media_type(path: str) -> str:
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


def _is_image(path: str) -> bool:
    return _media_type(path) in avatars.IMAGE_TYPES.values()


def _main_icon_path(card: dict[str, Any]) -> str | None:
    body = card.get("data")
    assets = body.get("assets") if isinstance(body, dict) else None
    if not isinstance(assets, list):
        return None
    icons = [a for a in assets if isinstance(a, dict) and a.get("type") == "icon"]
    main = next((a for a in icons if a.get("name") == "main"), icons[0] if icons else None)
    uri = main.get("uri") if main else None
    return embedded_path(uri) if isinstance(uri, str) else None


async def import_many(
    session: AsyncSession,
    files: FileStore,
    owner: User | None,
    uploads: list[tuple[str, bytes]],
    card_limits: CardLimits = DEFAULT_LIMITS,
    *,
    likeness: LikenessGuard | None = None,
    limits: HardLimits | None = None,
) -> list[ImportOutcome]:
    """Import each file on its own: one bad card does not stop the others."""
    if len(uploads) > MAX_FILES_PER_IMPORT:
        raise InvalidInputError(f"Import at most {MAX_FILES_PER_IMPORT} files at once.")
    outcomes = []
    for filename, data in uploads:
        # Everything that can refuse a card happens before anything is written.
        try:
            parsed = parse_card_file(data, filename, card_limits)
        except AfterdarkError as exc:
            outcomes.append(ImportOutcome(filename, error=str(exc)))
            continue
        try:
            await _check_rating(session, owner, parsed, filename)
            await _check_likeness(likeness, parsed)
            if owner is not None:
                await moderation.screen_character(session, limits, parsed.fields, user_id=owner.id)
        except (PermissionDeniedError, PaymentRequiredError, ProtectedLikeness) as exc:
            outcomes.append(ImportOutcome(filename, error=str(exc)))
            continue
        character = await store_card(session, files, owner, parsed, filename)
        outcomes.append(ImportOutcome(filename, character=character))
    return outcomes
