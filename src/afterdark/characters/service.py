"""Character use cases: browse, read, create, edit, delete, seed the catalogue."""

from __future__ import annotations

import json
from importlib import resources

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts.models import User
from afterdark.characters.models import Character
from afterdark.characters.schemas import (
    CharacterCreate,
    CharacterPublic,
    CharacterSummary,
    CharacterUpdate,
)
from afterdark.errors import InvalidInputError, NotFoundError, PermissionDeniedError

MIN_CHARACTER_AGE = 18


def check_character_age(age: int) -> None:
    if age < MIN_CHARACTER_AGE:
        raise PermissionDeniedError(
            f"Characters must be adults: the stated age is {age}, the minimum is "
            f"{MIN_CHARACTER_AGE}."
        )
    if age > 100_000:
        raise InvalidInputError("The age must be a number of years up to 100000.")


def _visible_to(user: User | None):  # type: ignore[no-untyped-def]
    if user is None:
        return Character.owner_id.is_(None)
    return or_(Character.owner_id.is_(None), Character.owner_id == user.id)


async def list_characters(
    session: AsyncSession, user: User | None, *, query: str = "", tag: str = ""
) -> list[Character]:
    """Built-in characters and the user's own, optionally filtered by text and tag."""
    rows = list(
        await session.scalars(select(Character).where(_visible_to(user)).order_by(Character.name))
    )
    if query:
        needle = query.casefold()
        rows = [
            c
            for c in rows
            if needle in c.name.casefold()
            or needle in c.tagline.casefold()
            or needle in c.description.casefold()
            or any(needle in t.casefold() for t in c.tags)
        ]
    if tag:
        rows = [c for c in rows if tag.casefold() in (t.casefold() for t in c.tags)]
    return rows


async def get_character(session: AsyncSession, user: User | None, character_id: int) -> Character:
    """A character the user may see, or NotFoundError."""
    character = await session.scalar(
        select(Character).where(Character.id == character_id, _visible_to(user))
    )
    if character is None:
        raise NotFoundError(f"Character {character_id} does not exist.")
    return character


async def create_character(session: AsyncSession, user: User, data: CharacterCreate) -> Character:
    check_character_age(data.age)
    character = Character(owner_id=user.id, **data.model_dump())
    session.add(character)
    await session.flush()
    return character


async def _own(session: AsyncSession, user: User, character_id: int) -> Character:
    character = await get_character(session, user, character_id)
    if character.owner_id != user.id:
        raise PermissionDeniedError("Built-in characters cannot be changed; duplicate it instead.")
    return character


async def update_character(
    session: AsyncSession, user: User, character_id: int, data: CharacterUpdate
) -> Character:
    character = await _own(session, user, character_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("age") is not None:
        check_character_age(changes["age"])
    for field, value in changes.items():
        if value is None:
            raise InvalidInputError(f"{field} cannot be null.")
        setattr(character, field, value)
    await session.flush()
    return character


async def delete_character(session: AsyncSession, user: User, character_id: int) -> None:
    character = await _own(session, user, character_id)
    await session.delete(character)
    await session.flush()


def summary(character: Character, user: User | None) -> CharacterSummary:
    return CharacterSummary(
        id=character.id,
        name=character.name,
        tagline=character.tagline,
        tags=list(character.tags),
        avatar_url=None,
        is_builtin=character.owner_id is None,
        is_own=user is not None and character.owner_id == user.id,
    )


def public(character: Character, user: User | None) -> CharacterPublic:
    return CharacterPublic(
        **summary(character, user).model_dump(),
        age=character.age,
        description=character.description,
        personality=character.personality,
        scenario=character.scenario,
        first_message=character.first_message,
        alternate_greetings=list(character.alternate_greetings),
        example_dialogue=character.example_dialogue,
        system_prompt=character.system_prompt,
        post_history_instructions=character.post_history_instructions,
        creator_notes=character.creator_notes,
    )


def catalogue() -> list[tuple[str, CharacterCreate]]:
    """The built-in characters shipped in ``characters/catalogue``, keyed by slug."""
    folder = resources.files("afterdark.characters") / "catalogue"
    entries = []
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".json"):
            data = json.loads(item.read_text(encoding="utf-8"))
            entries.append((item.name.removesuffix(".json"), CharacterCreate(**data)))
    return entries


async def seed_catalogue(session: AsyncSession) -> int:
    """Insert or refresh the built-in characters; returns how many were written."""
    count = 0
    for slug, data in catalogue():
        check_character_age(data.age)
        character = await session.scalar(select(Character).where(Character.slug == slug))
        if character is None:
            character = Character(slug=slug, owner_id=None)
            session.add(character)
        for field, value in data.model_dump().items():
            setattr(character, field, value)
        count += 1
    await session.flush()
    return count
