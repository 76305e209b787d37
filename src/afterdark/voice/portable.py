"""Spoken messages in the account export, and back into a fresh instance.

Each kept clip's audio (opened with the user's key: the export is the user's own copy) goes
under ``audio/`` with the export id of its message; on import it is sealed again with the
new account's key and tied to the restored message. Characters' voices travel with them.
"""

from __future__ import annotations

import zipfile
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts.models import User
from afterdark.characters.models import Character
from afterdark.store.files import FileStore
from afterdark.voice.models import CharacterVoice, SpeechClip

_SUFFIX = {"audio/wav": "wav", "audio/mpeg": "mp3", "audio/ogg": "ogg", "audio/webm": "webm"}


async def export_voice(
    session: AsyncSession, files: FileStore, user: User, archive: zipfile.ZipFile
) -> dict[str, Any]:
    """Write the clips into ``archive``; the manifest's ``voice`` section."""
    clips = []
    rows = await session.scalars(
        select(SpeechClip).where(SpeechClip.user_id == user.id).order_by(SpeechClip.id)
    )
    for clip in rows:
        name = f"audio/{clip.id}.{_SUFFIX.get(clip.media_type, 'bin')}"
        archive.writestr(name, await files.load(session, clip.file_key, owner=user.id))
        clips.append(
            {
                "message_id": clip.message_id,
                "key": clip.key,
                "file": name,
                "media_type": clip.media_type,
                "seconds": clip.seconds,
            }
        )
    voices = [
        {
            "character_id": row.character_id,
            "voice": row.voice,
            "speed": row.speed,
            "pitch": row.pitch,
        }
        for row in await session.scalars(
            select(CharacterVoice)
            .join(Character, Character.id == CharacterVoice.character_id)
            .where(Character.owner_id == user.id)
        )
    ]
    return {"clips": clips, "character_voices": voices}


async def restore_voice(
    session: AsyncSession,
    files: FileStore,
    user: User,
    section: Any,
    members: dict[str, bytes],
    *,
    characters: dict[int, int],
    messages: dict[int, int],
) -> None:
    """Put the clips and the own characters' voices back (what no longer fits is left out)."""
    if not isinstance(section, dict):
        return
    for entry in section.get("clips") or []:
        file, message = entry.get("file"), messages.get(entry.get("message_id") or -1)
        if message is None or not isinstance(file, str) or file not in members:
            continue
        session.add(
            SpeechClip(
                user_id=user.id,
                message_id=message,
                key=str(entry.get("key") or "")[:64],
                file_key=await files.save(session, members[file], owner=user.id),
                media_type=str(entry.get("media_type") or "audio/wav")[:40],
                seconds=float(entry.get("seconds") or 0.0),
            )
        )
    for entry in section.get("character_voices") or []:
        character = characters.get(entry.get("character_id") or -1)
        if character is None:
            continue
        session.add(
            CharacterVoice(
                character_id=character,
                voice=str(entry.get("voice") or "")[:100],
                speed=float(entry.get("speed") or 1.0),
                pitch=float(entry.get("pitch") or 0.0),
            )
        )
    await session.flush()
