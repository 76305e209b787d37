"""Character routes: catalogue, Studio (edit, versions, preview, avatar), import and export."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import Response

from afterdark.accounts import service as accounts_service
from afterdark.characters import exporter, importer, lorebooks, pictures, studio
from afterdark.characters import service as characters_service
from afterdark.characters.cards import DEFAULT_LIMITS
from afterdark.characters.schemas import (
    CharacterCreate,
    CharacterPublic,
    CharacterSummary,
    CharacterUpdate,
    ImportResult,
    PreviewRequest,
    PromptPreview,
    VersionPublic,
)
from afterdark.chat.presets import PRESETS
from afterdark.chat.prompt import PersonaPrompt
from afterdark.errors import InvalidInputError
from afterdark.safety import content
from afterdark.safety.likeness import Attestation
from afterdark.web.deps import CurrentUser, Id, RuntimeDep, SessionDep
from afterdark.web.downloads import download

router = APIRouter(prefix="/api/v1/characters", tags=["characters"])

_MIB = 2**20
UPLOAD_LIMITS = {
    r"/api/v1/characters/import": 128 * _MIB,
    r"/api/v1/characters/\d+/avatar": 16 * _MIB,
    r"/api/v1/characters/\d+/lorebook": 32 * _MIB,
}


@router.get("")
async def list_characters(
    user: CurrentUser,
    session: SessionDep,
    q: str = "",
    tag: str = "",
    style: Literal["realistic", "anime", "fantasy", ""] = "",
    mine: bool = False,
) -> list[CharacterSummary]:
    rows = await characters_service.list_characters(
        session, user, query=q, tag=tag, style=style, mine=mine
    )
    return [characters_service.summary(c, user) for c in rows]


@router.get("/tags")
async def list_tags(user: CurrentUser, session: SessionDep) -> list[dict[str, int | str]]:
    return [
        {"tag": tag, "count": count}
        for tag, count in await characters_service.tag_counts(session, user)
    ]


@router.post("/preview")
async def preview_prompt(
    draft: PreviewRequest, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> PromptPreview:
    persona = await accounts_service.get_persona(session, user)
    return studio.preview_prompt(
        draft,
        PersonaPrompt(name=persona.name, description=persona.description),
        tokenizer=runtime.generations.tokenizer,
        context_size=runtime.backend.context_size,
        reply_tokens=PRESETS["balanced"][1].max_tokens,
        adult=await content.adult_allowed(session, user),
    )


@router.post("/import")
async def import_cards(
    files: Annotated[list[UploadFile], File(description="PNG, JSON or CharX card files")],
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
) -> list[ImportResult]:
    uploads = [(f.filename or "card", await _read(f)) for f in files]
    outcomes = await importer.import_many(
        session, runtime.files, user, uploads, likeness=runtime.likeness, limits=runtime.limits
    )
    return [
        ImportResult(
            filename=o.filename,
            character=characters_service.summary(o.character, user) if o.character else None,
            error=o.error,
        )
        for o in outcomes
    ]


async def _read(upload: UploadFile) -> bytes:
    data = await upload.read(DEFAULT_LIMITS.max_file_bytes + 1)
    if len(data) > DEFAULT_LIMITS.max_file_bytes:
        raise InvalidInputError(
            f"{upload.filename}: larger than {DEFAULT_LIMITS.max_file_bytes // _MIB} MiB."
        )
    return data


@router.get("/{character_id}")
async def get_character(
    character_id: Id, user: CurrentUser, session: SessionDep
) -> CharacterPublic:
    character = await characters_service.get_character(session, user, character_id)
    assets = await characters_service.assets_of(session, character)
    return characters_service.public(character, user, assets)


@router.post("", status_code=201)
async def create_character(
    data: CharacterCreate, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> CharacterPublic:
    character = await characters_service.create_character(
        session, user, data, limits=runtime.limits
    )
    return characters_service.public(character, user, [])


@router.patch("/{character_id}")
async def update_character(
    character_id: Id,
    data: CharacterUpdate,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
) -> CharacterPublic:
    character = await characters_service.update_character(
        session, user, character_id, data, limits=runtime.limits
    )
    assets = await characters_service.assets_of(session, character)
    return characters_service.public(character, user, assets)


@router.delete("/{character_id}", status_code=204)
async def delete_character(
    character_id: Id, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> None:
    await characters_service.delete_character(session, runtime.files, user, character_id)


@router.post("/{character_id}/duplicate", status_code=201)
async def duplicate_character(
    character_id: Id, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> CharacterPublic:
    character = await characters_service.duplicate_character(
        session, runtime.files, user, character_id
    )
    assets = await characters_service.assets_of(session, character)
    return characters_service.public(character, user, assets)


@router.get("/{character_id}/versions")
async def list_versions(
    character_id: Id, user: CurrentUser, session: SessionDep
) -> list[VersionPublic]:
    rows = await characters_service.list_versions(session, user, character_id)
    return [
        VersionPublic(
            number=v.number, note=v.note, created_at=v.created_at, name=v.fields.get("name", "")
        )
        for v in rows
    ]


@router.post("/{character_id}/versions/{number}/restore")
async def restore_version(
    character_id: Id, number: Id, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> CharacterPublic:
    character = await characters_service.restore_version(
        session, user, character_id, number, limits=runtime.limits
    )
    assets = await characters_service.assets_of(session, character)
    return characters_service.public(character, user, assets)


@router.get("/{character_id}/export")
async def export_character(
    character_id: Id,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    format: Literal["json", "png", "charx"] = "png",
    spec: Annotated[Literal["v1", "v2", "v3"] | None, Query()] = None,
) -> Response:
    character = await characters_service.get_character(session, user, character_id)
    exported = await exporter.export_character(session, runtime.files, character, format, spec)
    return download(exported.filename, exported.media_type, exported.data)


@router.get("/{character_id}/avatar")
async def get_avatar(
    character_id: Id, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> Response:
    character = await characters_service.get_character(session, user, character_id)
    data, media_type = await pictures.picture(session, runtime.files, character)
    return Response(
        data, media_type=media_type, headers={"Cache-Control": "private, max-age=86400"}
    )


@router.put("/{character_id}/avatar")
async def set_avatar(
    character_id: Id,
    image: Annotated[UploadFile, File(description="PNG, JPEG or WebP")],
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    likeness: Annotated[
        Attestation | None,
        Form(
            description="Needed when the picture shows a face: 'fictional' (no real person) "
            "or 'consent' (a real adult who agreed to it)."
        ),
    ] = None,
) -> CharacterPublic:
    data = await _read(image)
    character = await pictures.set_avatar(
        session,
        runtime.files,
        user,
        character_id,
        data,
        likeness=runtime.likeness,
        attestation=likeness,
    )
    assets = await characters_service.assets_of(session, character)
    return characters_service.public(character, user, assets)


@router.put("/{character_id}/lorebook")
async def import_lorebook(
    character_id: Id,
    file: Annotated[UploadFile, File(description="V3 lorebook or SillyTavern world info")],
    user: CurrentUser,
    session: SessionDep,
    replace: bool = False,
) -> CharacterPublic:
    data = await _read(file)
    character = await lorebooks.import_lorebook(
        session, user, character_id, data, file.filename or "", replace=replace
    )
    assets = await characters_service.assets_of(session, character)
    return characters_service.public(character, user, assets)


@router.get("/{character_id}/lorebook")
async def export_lorebook(
    character_id: Id,
    user: CurrentUser,
    session: SessionDep,
    format: Literal["v3", "sillytavern"] = "v3",
) -> Response:
    character = await characters_service.get_character(session, user, character_id)
    filename, data = lorebooks.export_lorebook(character, format)
    return download(filename, "application/json", data)
