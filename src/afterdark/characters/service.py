"""Character use cases: browse, read, create, edit, version, duplicate, delete."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts.models import User
from afterdark.characters import versions
from afterdark.characters.ages import card_age, check_character_age
from afterdark.characters.books import check_book
from afterdark.characters.models import Character, CharacterAsset, CharacterVersion
from afterdark.characters.schemas import (
    AssetPublic,
    CharacterCreate,
    CharacterPublic,
    CharacterSummary,
    CharacterUpdate,
)
from afterdark.chat.prompt import CharacterPrompt
from afterdark.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from afterdark.safety import content, moderation
from afterdark.safety.limits import HardLimits
from afterdark.store.files import FileStore


def _visible_to(user: User | None) -> ColumnElement[bool]:
    if user is None:
        return Character.owner_id.is_(None)
    return or_(Character.owner_id.is_(None), Character.owner_id == user.id)


def _matches(character: Character, needle: str) -> bool:
    return any(
        needle in text.casefold()
        for text in (character.name, character.tagline, character.description, *character.tags)
    )


async def list_characters(
    session: AsyncSession,
    user: User | None,
    *,
    query: str = "",
    tag: str = "",
    style: str = "",
    mine: bool = False,
) -> list[Character]:
    """Built-in characters and the user's own, filtered by text, tag, style and ownership."""
    statement = select(Character).where(_visible_to(user))
    if not await content.adult_allowed(session, user):
        statement = statement.where(Character.rating != content.EXPLICIT)
    if style:
        statement = statement.where(Character.style == style)
    if mine:
        statement = statement.where(Character.owner_id == (user.id if user else -1))
    rows = list(await session.scalars(statement))
    if query:
        needle = query.casefold().strip()
        rows = [c for c in rows if _matches(c, needle)]
    if tag:
        wanted = tag.casefold()
        rows = [c for c in rows if wanted in (t.casefold() for t in c.tags)]
    # Names are sealed, so they are sorted here rather than by the database.
    return sorted(rows, key=lambda c: (c.name, c.id))


async def tag_counts(session: AsyncSession, user: User | None) -> list[tuple[str, int]]:
    """Tags in use on the characters the user can see, most used first."""
    counts: Counter[str] = Counter()
    for character in await session.scalars(select(Character).where(_visible_to(user))):
        counts.update({t.casefold() for t in character.tags or []})
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


async def get_character(session: AsyncSession, user: User | None, character_id: int) -> Character:
    """A character the user may see, or NotFoundError."""
    character = await session.scalar(
        select(Character).where(Character.id == character_id, _visible_to(user))
    )
    if character is None:
        raise NotFoundError(f"Character {character_id} does not exist.")
    if character.rating == content.EXPLICIT:
        await content.require_adult(session, user, character.name)
    return character


async def get_any_character(session: AsyncSession, character_id: int) -> Character:
    """Any character by id, whoever owns it (operator tools only)."""
    character = await session.get(Character, character_id)
    if character is None:
        raise NotFoundError(f"Character {character_id} does not exist.")
    return character


def check_fields(fields: dict[str, Any]) -> None:
    """Everything a saved character must satisfy: an adult, a name, a sound lorebook."""
    name = str(fields.get("name") or "").strip()
    if not name:
        raise InvalidInputError("Give the character a name.")
    age = fields.get("age")
    if age is None:
        raise InvalidInputError(f"Set {name}'s age: every character is 18 or older.")
    check_character_age(age, name)
    texts = [
        str(fields.get(key) or "")
        for key in ("description", "appearance", "backstory", "personality", "scenario")
    ]
    card_age(name, [*texts, str(fields.get("first_message") or "")])
    check_book(fields.get("book"))


async def create_character(
    session: AsyncSession, user: User, data: CharacterCreate, *, limits: HardLimits | None = None
) -> Character:
    """A new character owned by the user, saved as version 1."""
    fields = data.model_dump()
    check_fields(fields)
    if fields["rating"] == content.EXPLICIT:
        await content.require_adult(session, user, fields["name"])
    await moderation.screen_character(session, limits, fields, user_id=user.id)
    character = Character(owner_id=user.id, version=1, **fields)
    session.add(character)
    await session.flush()
    versions.record(session, character, "Created")
    await session.flush()
    return character


async def get_owned(session: AsyncSession, user: User, character_id: int) -> Character:
    """A character the user owns; built-ins and others' characters are refused."""
    character = await get_character(session, user, character_id)
    if character.owner_id != user.id:
        raise PermissionDeniedError("Built-in characters cannot be changed; duplicate it instead.")
    return character


async def save_fields(
    session: AsyncSession,
    character: Character,
    changes: dict[str, Any],
    note: str,
    *,
    limits: HardLimits | None = None,
) -> Character:
    """Apply checked changes; a real change is saved as a new version."""
    current = versions.fields_of(character)
    changes = {k: v for k, v in changes.items() if current.get(k) != v}
    if not changes:
        return character
    check_fields({**current, **changes})
    if character.owner_id is not None:
        await moderation.screen_character(
            session, limits, {**current, **changes}, user_id=character.owner_id
        )
    for field, value in changes.items():
        setattr(character, field, value)
    character.version += 1
    await session.flush()
    versions.record(session, character, note or "Edited " + ", ".join(sorted(changes)))
    await session.flush()
    return character


async def update_character(
    session: AsyncSession,
    user: User,
    character_id: int,
    data: CharacterUpdate,
    *,
    limits: HardLimits | None = None,
) -> Character:
    """Apply the fields sent; a real change saves a new version."""
    character = await get_owned(session, user, character_id)
    changes = data.model_dump(exclude_unset=True, exclude={"note"})
    for field, value in changes.items():
        if value is None and field != "book":
            raise InvalidInputError(f"{field} cannot be null.")
    if changes.get("rating") == content.EXPLICIT:
        await content.require_adult(session, user, character.name)
    return await save_fields(session, character, changes, data.note, limits=limits)


async def restore_version(
    session: AsyncSession,
    user: User,
    character_id: int,
    number: int,
    *,
    limits: HardLimits | None = None,
) -> Character:
    """Bring back the fields of an earlier version, as a new version."""
    character = await get_owned(session, user, character_id)
    fields = await versions.fields_at(session, character, number)
    if fields.get("rating") == content.EXPLICIT:
        await content.require_adult(session, user, character.name)
    return await save_fields(
        session, character, fields, f"Restored version {number}", limits=limits
    )


async def list_versions(
    session: AsyncSession, user: User, character_id: int
) -> list[CharacterVersion]:
    character = await get_owned(session, user, character_id)
    return await versions.history(session, character)


async def duplicate_character(
    session: AsyncSession, files: FileStore, user: User, character_id: int
) -> Character:
    """A private copy of any visible character (its card and files too), as version 1."""
    source = await get_character(session, user, character_id)
    fields = versions.fields_of(source)
    if fields["age"] is None:
        raise InvalidInputError(
            f"{source.name}'s card states no age; set one (18 or older) before duplicating."
        )
    copy = Character(
        owner_id=user.id,
        version=1,
        avatar_path=source.avatar_path,
        card_text=source.card_text,
        card_spec=source.card_spec,
        card_container=source.card_container,
        extra=dict(source.extra or {}),
        **{**fields, "name": _copy_name(source.name)},
    )
    session.add(copy)
    await session.flush()
    for asset in await assets_of(session, source):
        data = await files.load(session, asset.file_key, owner=source.owner_id)
        file_key = await files.save(session, data, owner=user.id)
        session.add(
            CharacterAsset(
                character_id=copy.id,
                role=asset.role,
                path=asset.path,
                media_type=asset.media_type,
                size=asset.size,
                sha256=asset.sha256,
                file_key=file_key,
                position=asset.position,
            )
        )
    versions.record(session, copy, f"Duplicated from {source.name}")
    await session.flush()
    return copy


def _copy_name(name: str) -> str:
    suffix = " (copy)"
    return name[: 200 - len(suffix)] + suffix


async def delete_character(
    session: AsyncSession, files: FileStore, user: User, character_id: int
) -> None:
    """Delete an own character with its versions and files (never gated: it is theirs)."""
    character = await session.scalar(
        select(Character).where(Character.id == character_id, Character.owner_id == user.id)
    )
    if character is None:
        raise NotFoundError(f"Character {character_id} does not exist.")
    keys = [asset.file_key for asset in await assets_of(session, character)]
    await session.delete(character)
    await session.flush()
    files.delete_after_commit(session, keys)


async def assets_of(session: AsyncSession, character: Character) -> list[CharacterAsset]:
    rows = await session.scalars(
        select(CharacterAsset)
        .where(CharacterAsset.character_id == character.id)
        .order_by(CharacterAsset.position, CharacterAsset.id)
    )
    return list(rows)


def character_prompt(character: Character) -> CharacterPrompt:
    """What the prompt builder needs from a character."""
    return CharacterPrompt(
        name=character.macro_name,
        description=character.description,
        appearance=character.appearance,
        backstory=character.backstory,
        personality=character.personality,
        speaking_style=character.speaking_style,
        scenario=character.scenario,
        example_dialogue=character.example_dialogue,
        system_prompt=character.system_prompt,
        post_history_instructions=character.post_history_instructions,
    )


def avatar_url(character: Character) -> str:
    stamp = int(character.updated_at.timestamp() * 1000) if character.updated_at else 0
    return f"/api/v1/characters/{character.id}/avatar?v={character.version}.{stamp}"


def summary(character: Character, user: User | None) -> CharacterSummary:
    source = None
    if character.card_container and character.card_spec:
        source = f"{character.card_container}/{character.card_spec}"
    return CharacterSummary(
        id=character.id,
        name=character.name,
        age=character.age,
        style=character.style,
        rating=character.rating,
        tagline=character.tagline,
        tags=list(character.tags),
        avatar_url=avatar_url(character),
        is_builtin=character.owner_id is None,
        is_own=user is not None and character.owner_id == user.id,
        source=source,
    )


def public(
    character: Character, user: User | None, assets: list[CharacterAsset]
) -> CharacterPublic:
    fields = versions.fields_of(character)
    fields.pop("name")
    fields.pop("age")
    fields.pop("style")
    fields.pop("rating")
    fields.pop("tagline")
    fields.pop("tags")
    return CharacterPublic(
        **summary(character, user).model_dump(),
        **fields,
        version=character.version,
        updated_at=character.updated_at,
        assets=[
            AssetPublic(role=a.role, path=a.path, media_type=a.media_type, size=a.size)
            for a in assets
            if a.role != "thumbnail"
        ],
    )
