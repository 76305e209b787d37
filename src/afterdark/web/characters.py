"""Character routes."""

from __future__ import annotations

from fastapi import APIRouter

from afterdark.characters import service as characters_service
from afterdark.characters.schemas import (
    CharacterCreate,
    CharacterPublic,
    CharacterSummary,
    CharacterUpdate,
)
from afterdark.web.deps import CurrentUser, SessionDep

router = APIRouter(prefix="/api/v1/characters", tags=["characters"])


@router.get("")
async def list_characters(
    user: CurrentUser, session: SessionDep, q: str = "", tag: str = ""
) -> list[CharacterSummary]:
    rows = await characters_service.list_characters(session, user, query=q, tag=tag)
    return [characters_service.summary(c, user) for c in rows]


@router.get("/{character_id}")
async def get_character(
    character_id: int, user: CurrentUser, session: SessionDep
) -> CharacterPublic:
    character = await characters_service.get_character(session, user, character_id)
    return characters_service.public(character, user)


@router.post("", status_code=201)
async def create_character(
    data: CharacterCreate, user: CurrentUser, session: SessionDep
) -> CharacterPublic:
    character = await characters_service.create_character(session, user, data)
    return characters_service.public(character, user)


@router.patch("/{character_id}")
async def update_character(
    character_id: int, data: CharacterUpdate, user: CurrentUser, session: SessionDep
) -> CharacterPublic:
    character = await characters_service.update_character(session, user, character_id, data)
    return characters_service.public(character, user)


@router.delete("/{character_id}", status_code=204)
async def delete_character(character_id: int, user: CurrentUser, session: SessionDep) -> None:
    await characters_service.delete_character(session, user, character_id)
