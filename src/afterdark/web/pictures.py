"""Picture routes: ask for a picture of a character, follow it, the gallery, the reference
face. Thin over ``images/service.py`` and ``images/references.py``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from afterdark.characters import pictures as character_pictures
from afterdark.characters import service as characters_service
from afterdark.characters.cards import DEFAULT_LIMITS
from afterdark.characters.schemas import CharacterPublic
from afterdark.errors import ConflictError, InvalidInputError, NotFoundError
from afterdark.images import references
from afterdark.images import service as images
from afterdark.images.models import Picture, ReferenceFace
from afterdark.images.registry import SETUP_HINT
from afterdark.safety.likeness import Attestation
from afterdark.store.base import MAX_ID
from afterdark.web.deps import CurrentUser, Id, RuntimeDep, SessionDep

router = APIRouter(prefix="/api/v1", tags=["pictures"])
_MIB = 2**20
UPLOAD_LIMITS = {r"/api/v1/characters/\d+/reference": 16 * _MIB}


class PremiumPublic(BaseModel):
    """What the user can do with the premium image model."""

    offered: bool = Field(description="A premium image model is set up here.")
    unlocked: bool = Field(
        description="The user may use it: their plan has it, or no plan offering it is on sale."
    )
    free_left: int = Field(description="Premium pictures the user still has for free.")
    sparks: int = Field(description="What a premium picture costs (0 while Sparks are off).")


class ImagesStatus(BaseModel):
    enabled: bool
    backend: str
    identity: str = Field(description="How the backend keeps the face: instantid, pulid, ...")
    hint: str = Field(description="How to turn pictures on, when they are off.")
    premium: PremiumPublic


class PictureRequest(BaseModel):
    request: str = Field(default="", max_length=images.MAX_REQUEST)
    conversation_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    premium: bool = Field(
        default=False,
        description="Made with the premium image model: the user's first one is free, then "
        "it costs sparks.premium_picture_sparks and needs the premium_images unlock where a "
        "plan offering it is on sale.",
    )


class RegenerateRequest(BaseModel):
    premium: bool | None = Field(
        default=None, description="With the premium image model; unset: as the picture was."
    )


class PictureProgress(BaseModel):
    try_number: int
    step: int
    total: int
    stage: str


class PicturePublic(BaseModel):
    id: int
    character_id: int
    conversation_id: int | None
    message_id: int | None = Field(description="The chat message it shows under.")
    status: str
    request: str
    prompt: str
    seed: int
    width: int
    height: int
    tries: int
    faces: int | None
    distance: float | None = Field(description="Face distance to the reference (lower: closer).")
    similarity: float | None
    identity_passed: bool | None
    first_distance: float | None = Field(description="The first try's distance.")
    identity_method: str
    explicit: bool
    premium: bool = Field(description="Made with the premium image model.")
    free_premium: bool = Field(description="The user's free premium picture (it cost nothing).")
    sparks: int
    error: str | None
    url: str | None
    progress: PictureProgress | None
    created_at: datetime


class ReferencePublic(BaseModel):
    character_id: int
    source: str
    picture_id: int | None
    attestation: str | None
    url: str
    updated_at: datetime


class ReferenceFromPicture(BaseModel):
    picture_id: int = Field(ge=1, le=MAX_ID)


def _public(picture: Picture, runtime_underway: dict[int, images.Underway]) -> PicturePublic:
    state = runtime_underway.get(picture.id)
    done = picture.status == "done" and picture.file_key
    return PicturePublic(
        id=picture.id,
        character_id=picture.character_id,
        conversation_id=picture.conversation_id,
        message_id=picture.message_id,
        status=picture.status,
        request=picture.request,
        prompt=picture.prompt,
        seed=picture.seed,
        width=picture.width,
        height=picture.height,
        tries=picture.tries,
        faces=picture.faces,
        distance=picture.distance,
        similarity=picture.similarity,
        identity_passed=picture.identity_passed,
        first_distance=picture.first_distance,
        identity_method=picture.identity_method,
        explicit=picture.explicit,
        premium=picture.premium,
        free_premium=picture.free_premium,
        sparks=picture.sparks if picture.status == "done" else 0,
        error=picture.error,
        url=f"/api/v1/pictures/{picture.id}/file" if done else None,
        progress=(
            PictureProgress(
                try_number=state.try_number, step=state.step, total=state.total, stage=state.stage
            )
            if state is not None and picture.status in ("queued", "rendering")
            else None
        ),
        created_at=picture.created_at,
    )


def _reference(face: ReferenceFace) -> ReferencePublic:
    return ReferencePublic(
        character_id=face.character_id,
        source=face.source,
        picture_id=face.picture_id,
        attestation=face.attestation,
        url=f"/api/v1/characters/{face.character_id}/reference/file?v={face.id}",
        updated_at=face.updated_at,
    )


@router.get("/images/status")
async def images_status(
    user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> ImagesStatus:
    """Whether pictures are on, and what the user can do with the premium image model."""
    backend = runtime.pictures.backend
    premium = await runtime.pictures.premium_status(session, user)
    return ImagesStatus(
        enabled=backend is not None,
        backend=backend.name if backend is not None else "none",
        identity=backend.identity if backend is not None else "",
        hint="" if backend is not None else SETUP_HINT,
        premium=PremiumPublic(
            offered=premium.offered,
            unlocked=premium.unlocked,
            free_left=premium.free_left,
            sparks=premium.sparks,
        ),
    )


@router.post("/characters/{character_id}/pictures", status_code=202)
async def ask_for_picture(
    character_id: Id,
    data: PictureRequest,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
) -> PicturePublic:
    """Queue a picture of the character (its price is held until it is done)."""
    picture = await runtime.pictures.ask(
        session,
        user,
        character_id,
        request=data.request,
        conversation_id=data.conversation_id,
        premium_model=data.premium,
    )
    await session.commit()  # the render reads it in its own session
    runtime.pictures.start(picture.id)
    return _public(picture, runtime.pictures.underway)


@router.get("/characters/{character_id}/pictures")
async def list_pictures(
    character_id: Id,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 60,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[PicturePublic]:
    await characters_service.get_character(session, user, character_id)
    rows = await images.gallery(session, user, character_id, limit=limit, offset=offset)
    return [_public(p, runtime.pictures.underway) for p in rows]


@router.get("/conversations/{conversation_id}/pictures")
async def chat_pictures(
    conversation_id: Id, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> list[PicturePublic]:
    """The pictures asked for in a chat, oldest first, each under its ``message_id``."""
    rows = await images.of_conversation(session, user, conversation_id)
    return [_public(p, runtime.pictures.underway) for p in rows]


@router.get("/pictures/{picture_id}")
async def get_picture(
    picture_id: Id, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> PicturePublic:
    picture = await images.get_picture(session, user, picture_id)
    return _public(picture, runtime.pictures.underway)


@router.get("/pictures/{picture_id}/file")
async def picture_file(
    picture_id: Id, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> Response:
    picture = await images.get_picture(session, user, picture_id)
    if picture.status != "done" or not picture.file_key:
        raise NotFoundError("This picture has no file: it was not made.")
    data = await runtime.files.load(session, picture.file_key, owner=user.id)
    return Response(
        data,
        media_type=picture.media_type or "image/png",
        headers={"Cache-Control": "private, max-age=86400"},
    )


@router.post("/pictures/{picture_id}/cancel")
async def cancel_picture(
    picture_id: Id, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> PicturePublic:
    picture = await runtime.pictures.cancel(session, user, picture_id)
    return _public(picture, runtime.pictures.underway)


@router.post("/pictures/{picture_id}/regenerate", status_code=202)
async def regenerate_picture(
    picture_id: Id,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    data: RegenerateRequest | None = None,
) -> PicturePublic:
    """The same request again, with a new seed (and the same model unless ``premium``
    says otherwise)."""
    old = await images.get_picture(session, user, picture_id)
    premium = old.premium if data is None or data.premium is None else data.premium
    picture = await runtime.pictures.ask(
        session,
        user,
        old.character_id,
        request=old.request,
        conversation_id=old.conversation_id,
        premium_model=premium,
    )
    await session.commit()
    runtime.pictures.start(picture.id)
    return _public(picture, runtime.pictures.underway)


@router.delete("/pictures/{picture_id}", status_code=204)
async def delete_picture(
    picture_id: Id, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> None:
    picture = await images.get_picture(session, user, picture_id)
    if picture.status in ("queued", "rendering"):
        raise ConflictError("This picture is still being made; cancel it first.")
    if picture.file_key:
        runtime.files.delete_after_commit(session, [picture.file_key])
    await session.delete(picture)


@router.post("/pictures/{picture_id}/portrait")
async def set_as_portrait(
    picture_id: Id, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> CharacterPublic:
    """Make a finished picture the character's portrait (own characters only)."""
    picture = await images.get_picture(session, user, picture_id)
    if picture.status != "done" or not picture.file_key:
        raise InvalidInputError("Only a finished picture can be the portrait.")
    data = await runtime.files.load(session, picture.file_key, owner=user.id)
    face = await images.reference_of(session, user.id, picture.character_id)
    # A render is generated; one made from an uploaded real face carries that consent.
    attestation: Attestation = "consent" if face and face.attestation == "consent" else "fictional"
    character = await character_pictures.set_avatar(
        session,
        runtime.files,
        user,
        picture.character_id,
        data,
        likeness=runtime.likeness,
        attestation=attestation,
    )
    assets = await characters_service.assets_of(session, character)
    return characters_service.public(character, user, assets)


@router.get("/characters/{character_id}/reference")
async def get_reference(
    character_id: Id, user: CurrentUser, session: SessionDep
) -> ReferencePublic:
    await characters_service.get_character(session, user, character_id)
    face = await images.reference_of(session, user.id, character_id)
    if face is None:
        raise NotFoundError("This character has no reference face.")
    return _reference(face)


@router.get("/characters/{character_id}/reference/file")
async def reference_file(
    character_id: Id, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> Response:
    face = await images.reference_of(session, user.id, character_id)
    if face is None:
        raise NotFoundError("This character has no reference face.")
    data = await runtime.files.load(session, face.file_key, owner=user.id)
    return Response(
        data, media_type=face.media_type, headers={"Cache-Control": "private, max-age=86400"}
    )


@router.put("/characters/{character_id}/reference")
async def reference_from_picture(
    character_id: Id,
    data: ReferenceFromPicture,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
) -> ReferencePublic:
    """Use one of this character's finished pictures as its reference face."""
    face = await references.from_picture(
        session, runtime.files, user, character_id, data.picture_id
    )
    return _reference(face)


@router.post("/characters/{character_id}/reference")
async def reference_from_upload(
    character_id: Id,
    image: Annotated[UploadFile, File(description="PNG, JPEG or WebP with one face")],
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    likeness: Annotated[
        Attestation | None,
        Form(
            description="'fictional' (no real person) or 'consent' (a real adult who agreed "
            "to it): needed, since a reference shows a face."
        ),
    ] = None,
) -> ReferencePublic:
    data = await image.read(DEFAULT_LIMITS.max_file_bytes + 1)
    if len(data) > DEFAULT_LIMITS.max_file_bytes:
        raise InvalidInputError(
            f"The image is larger than {DEFAULT_LIMITS.max_file_bytes // _MIB} MiB."
        )
    face = await references.from_upload(
        session,
        runtime.files,
        user,
        character_id,
        data,
        likeness=runtime.likeness,
        attestation=likeness,
    )
    return _reference(face)


@router.delete("/characters/{character_id}/reference", status_code=204)
async def delete_reference(
    character_id: Id, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> None:
    await references.remove(session, runtime.files, user, character_id)
