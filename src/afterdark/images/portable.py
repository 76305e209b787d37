"""Pictures and reference faces in the account export, and back into a fresh instance.

The zip holds each finished picture's file (opened with the user's key: the export is the
user's own copy) under ``pictures/``, each reference face's under ``pictures/reference-``,
and the manifest lists them with their words and identity figures. Characters are named as
everywhere in the export (a built-in by slug, the user's own by export id); on import the
files are sealed again with the new account's key and the face encodings re-made from them.
Pictures of a character the new instance lacks are left out.
"""

from __future__ import annotations

import zipfile
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts.models import User
from afterdark.characters.refs import export_refs
from afterdark.errors import InvalidInputError
from afterdark.images import identity
from afterdark.images.models import STATUSES, Picture, ReferenceFace
from afterdark.kit.clock import utcnow
from afterdark.store.files import FileStore

Resolver = Callable[[Any], Awaitable[int | None]]
_SUFFIX = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}
_FIGURES = (
    "seed",
    "width",
    "height",
    "tries",
    "faces",
    "distance",
    "similarity",
    "identity_passed",
    "first_distance",
    "identity_method",
    "explicit",
    "premium",
    "backend",
)


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def export_pictures(
    session: AsyncSession, files: FileStore, user: User, archive: zipfile.ZipFile
) -> dict[str, Any]:
    """Write the files into ``archive``; the manifest's ``pictures`` section."""
    pictures = list(
        await session.scalars(
            select(Picture).where(Picture.user_id == user.id).order_by(Picture.id)
        )
    )
    faces = list(
        await session.scalars(select(ReferenceFace).where(ReferenceFace.user_id == user.id))
    )
    refs = await export_refs(
        session, user.id, {p.character_id for p in pictures} | {f.character_id for f in faces}
    )
    listed = []
    for picture in pictures:
        if picture.character_id not in refs:
            continue
        entry: dict[str, Any] = {
            "id": picture.id,
            "character": refs[picture.character_id],
            "conversation_id": picture.conversation_id,
            "message_id": picture.message_id,
            "status": picture.status,
            "request": picture.request,
            "prompt": picture.prompt,
            "negative": picture.negative,
            "error": picture.error,
            "created_at": _when(picture.created_at),
            **{name: getattr(picture, name) for name in _FIGURES},
        }
        if picture.file_key:
            name = f"pictures/{picture.id}.{_SUFFIX.get(picture.media_type or '', 'png')}"
            archive.writestr(name, await files.load(session, picture.file_key, owner=user.id))
            entry["file"], entry["media_type"] = name, picture.media_type
        listed.append(entry)
    references = []
    for face in faces:
        if face.character_id not in refs:
            continue
        name = f"pictures/reference-{face.character_id}.{_SUFFIX.get(face.media_type, 'png')}"
        archive.writestr(name, await files.load(session, face.file_key, owner=user.id))
        references.append(
            {
                "character": refs[face.character_id],
                "source": face.source,
                "picture_id": face.picture_id,
                "attestation": face.attestation,
                "file": name,
                "media_type": face.media_type,
            }
        )
    return {"pictures": listed, "references": references}


async def restore_pictures(
    session: AsyncSession,
    files: FileStore,
    user: User,
    section: dict[str, Any],
    members: dict[str, bytes],
    *,
    character_of: Resolver,
    conversations: dict[int, int],
    messages: dict[int, int],
) -> None:
    """Put the pictures back. ``character_of`` finds the new id of the character an entry
    names (None: this instance lacks it, and the entry is left out)."""
    if not isinstance(section, dict):
        raise InvalidInputError("The export's pictures are not an object.")
    renumbered: dict[int, int] = {}
    for entry in section.get("pictures") or []:
        character_id = await character_of(entry.get("character"))
        if character_id is None:
            continue
        status = entry.get("status")
        picture = Picture(
            user_id=user.id,
            character_id=character_id,
            conversation_id=conversations.get(entry.get("conversation_id") or -1),
            message_id=messages.get(entry.get("message_id") or -1),
            status=status if status in STATUSES else "failed",
            error=(entry.get("error") or None),
            created_at=_time(entry.get("created_at")),
            **{name: entry.get(name) for name in _FIGURES if entry.get(name) is not None},
        )
        picture.request = str(entry.get("request") or "")
        picture.prompt = str(entry.get("prompt") or "")
        picture.negative = str(entry.get("negative") or "")
        if picture.status in ("queued", "rendering"):
            picture.status, picture.error = "failed", "It was still being made when exported."
        file = entry.get("file")
        if isinstance(file, str) and file in members:
            picture.file_key = await files.save(session, members[file], owner=user.id)
            picture.media_type = str(entry.get("media_type") or "image/png")[:40]
        elif picture.status == "done":
            picture.status, picture.error = "failed", "Its file was not in the export."
        session.add(picture)
        await session.flush()
        if isinstance(entry.get("id"), int):
            renumbered[entry["id"]] = picture.id
    for entry in section.get("references") or []:
        character_id = await character_of(entry.get("character"))
        file = entry.get("file")
        if character_id is None or not isinstance(file, str) or file not in members:
            continue
        data = members[file]
        face = ReferenceFace(
            user_id=user.id,
            character_id=character_id,
            source=str(entry.get("source") or "upload")[:12],
            picture_id=renumbered.get(entry.get("picture_id") or -1),
            attestation=entry.get("attestation"),
            file_key=await files.save(session, data, owner=user.id),
            media_type=str(entry.get("media_type") or "image/png")[:40],
        )
        face.encoding = identity.encode_encoding(await identity.reference_encoding_async(data))
        session.add(face)
    await session.flush()


def _time(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    return utcnow()
