"""A character's picture: the thumbnail of its own image, its catalogue portrait, or art
generated from its name; and replacing it with an upload."""

from __future__ import annotations

import asyncio
import hashlib

from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts.models import User
from afterdark.characters import avatars, catalogue
from afterdark.characters.models import Character, CharacterAsset
from afterdark.characters.service import assets_of, get_owned
from afterdark.kit.clock import utcnow
from afterdark.safety.likeness import ATTESTATIONS, Attestation, LikenessGuard
from afterdark.safety.models import LikenessAttestation
from afterdark.store.files import FileStore


async def picture(
    session: AsyncSession, files: FileStore, character: Character
) -> tuple[bytes, str]:
    """The image lists and chats show for a character, and its media type."""
    thumb = next((a for a in await assets_of(session, character) if a.role == "thumbnail"), None)
    if thumb is not None:
        data = await files.load(session, thumb.file_key, owner=character.owner_id)
        return data, thumb.media_type
    if character.avatar_path and (portrait := catalogue.portrait_bytes(character.avatar_path)):
        return portrait, "image/png"
    return avatars.generated_portrait(character.name), "image/png"


async def set_avatar(
    session: AsyncSession,
    files: FileStore,
    user: User,
    character_id: int,
    data: bytes,
    *,
    likeness: LikenessGuard,
    attestation: Attestation | None = None,
) -> Character:
    """Replace an own character's picture (checked, thumbnailed; the old one removed).

    A protected person's face is refused; any other face needs the uploader's attestation,
    which is recorded with the picture.
    """
    character = await get_owned(session, user, character_id)
    media_type = avatars.image_type(data)
    verdict = await likeness.check_upload(data, attestation)
    small = await asyncio.to_thread(avatars.thumbnail, data)
    old = [a for a in await assets_of(session, character) if a.role in ("avatar", "thumbnail")]
    for asset in old:
        await session.delete(asset)
    files.delete_after_commit(session, [a.file_key for a in old])
    for role, blob, kind in (("avatar", data, media_type), ("thumbnail", small, "image/webp")):
        file_key = await files.save(session, blob, owner=character.owner_id)
        if role == "avatar" and verdict.faces and attestation is not None:
            session.add(
                LikenessAttestation(
                    user_id=user.id,
                    character_id=character.id,
                    file_key=file_key,
                    kind=attestation,
                    statement=ATTESTATIONS[attestation],
                    faces=verdict.faces,
                )
            )
        session.add(
            CharacterAsset(
                character_id=character.id,
                role=role,
                media_type=kind,
                size=len(blob),
                sha256=hashlib.sha256(blob).hexdigest(),
                file_key=file_key,
            )
        )
    # Picture URLs carry the update time, so browsers fetch the new one. A picture is not a
    # version of the character's text: restoring a version keeps the current picture.
    character.updated_at = utcnow()
    await session.flush()
    return character
