"""Reference faces: the face a character should have in a user's pictures.

Set from a finished render the user picks, or from an upload. An upload goes through the
likeness checks every character picture goes through (a protected person is refused; a
face needs the ``fictional`` or ``consent`` attestation, recorded here). Either way the
picture must show exactly one face: its encoding is what every render is scored against.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts.models import User
from afterdark.characters import avatars
from afterdark.characters import service as characters_service
from afterdark.errors import InvalidInputError, NotFoundError
from afterdark.images import identity
from afterdark.images.models import Picture, ReferenceFace
from afterdark.images.service import get_picture, reference_of
from afterdark.safety.likeness import Attestation, LikenessGuard
from afterdark.store.files import FileStore


async def _replace(
    session: AsyncSession,
    files: FileStore,
    user: User,
    character_id: int,
    data: bytes,
    media_type: str,
    *,
    source: str,
    picture_id: int | None = None,
    attestation: str | None = None,
    max_side: int = 1024,
) -> ReferenceFace:
    encoding = await identity.reference_encoding_async(data, max_side)
    old = await reference_of(session, user.id, character_id)
    if old is not None:
        files.delete_after_commit(session, [old.file_key])
        await session.delete(old)
        await session.flush()
    face = ReferenceFace(
        user_id=user.id,
        character_id=character_id,
        source=source,
        picture_id=picture_id,
        attestation=attestation,
        file_key=await files.save(session, data, owner=user.id),
        media_type=media_type,
    )
    face.encoding = identity.encode_encoding(encoding)
    session.add(face)
    await session.flush()
    return face


async def from_picture(
    session: AsyncSession, files: FileStore, user: User, character_id: int, picture_id: int
) -> ReferenceFace:
    """Use a finished render of this character as its reference face."""
    await characters_service.get_character(session, user, character_id)
    picture: Picture = await get_picture(session, user, picture_id)
    if picture.character_id != character_id:
        raise InvalidInputError("That picture is of another character.")
    if picture.status != "done" or not picture.file_key:
        raise InvalidInputError("Only a finished picture can be the reference face.")
    data = await files.load(session, picture.file_key, owner=user.id)
    # A render made from an uploaded real face carries that person's likeness and consent.
    previous = await reference_of(session, user.id, character_id)
    attestation = previous.attestation if previous is not None else None
    return await _replace(
        session,
        files,
        user,
        character_id,
        data,
        picture.media_type or "image/png",
        source="render",
        picture_id=picture.id,
        attestation=attestation,
    )


async def from_upload(
    session: AsyncSession,
    files: FileStore,
    user: User,
    character_id: int,
    data: bytes,
    *,
    likeness: LikenessGuard,
    attestation: Attestation | None,
) -> ReferenceFace:
    """Use an uploaded picture as the reference face, after the likeness checks."""
    await characters_service.get_character(session, user, character_id)
    media_type = avatars.image_type(data)
    await likeness.check_upload(data, attestation)
    return await _replace(
        session,
        files,
        user,
        character_id,
        data,
        media_type,
        source="upload",
        attestation=attestation,
    )


async def remove(session: AsyncSession, files: FileStore, user: User, character_id: int) -> None:
    face = await reference_of(session, user.id, character_id)
    if face is None:
        raise NotFoundError("This character has no reference face.")
    files.delete_after_commit(session, [face.file_key])
    await session.delete(face)
    await session.flush()
