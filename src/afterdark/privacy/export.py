"""Everything a user has, as one zip of JSON and original files.

Layout::

    afterdark-export.json          manifest: account, persona, healthy-use settings, Sparks
                                   (a record only), index
    characters/<id>.<png|json|charx>   each own character as a card, in the container and
                                   version it came in (V3 JSON for ones made here)
    characters/<id>.versions.json  its version history
    conversations/<id>.json        each conversation with its whole message tree

Built-in characters are referred to by slug. The zip holds no password hash and no
session or token: importing it sets a new password.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark import __version__
from afterdark.accounts import service as accounts_service
from afterdark.accounts.models import User
from afterdark.characters import exporter, versions
from afterdark.characters.models import Character, CharacterVersion
from afterdark.characters.refs import export_refs
from afterdark.chat.models import Conversation, Message
from afterdark.credits import ledger
from afterdark.credits import service as credits_service
from afterdark.credits.models import SparkAccount
from afterdark.credits.schemas import lines_of
from afterdark.images.portable import export_pictures
from afterdark.kit.clock import utcnow
from afterdark.memory import worldbooks
from afterdark.memory.portable import export_memories
from afterdark.safety import wellbeing
from afterdark.safety.models import LikenessAttestation
from afterdark.safety.schemas import WellbeingPublic
from afterdark.store.files import FileStore
from afterdark.voice.portable import export_voice

FORMAT = "afterdark-export"
FORMAT_VERSION = 1
MANIFEST = "afterdark-export.json"


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def export_user(session: AsyncSession, files: FileStore, user: User) -> bytes:
    """The user's data as zip bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        characters = await _characters(session, files, user, archive)
        conversations = await _conversations(session, user, archive)
        pictures = await export_pictures(session, files, user, archive)
        voice = await export_voice(session, files, user, archive)
        persona = await accounts_service.get_persona(session, user)
        settings = WellbeingPublic.model_validate(await wellbeing.get_settings(session, user))
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "afterdark_version": __version__,
            "exported_at": utcnow().isoformat(),
            "account": {
                "email": user.email,
                "display_name": user.display_name,
                "created_at": _when(user.created_at),
                "age_checked_at": _when(user.age_checked_at),
                "age_check_method": user.age_check_method,
            },
            "persona": {"name": persona.name, "description": persona.description},
            "wellbeing": settings.model_dump(),
            "likeness_attestations": await _attestations(session, user),
            "world_books": await _world_books(session, user),
            "characters": characters,
            "conversations": conversations,
            "memories": await export_memories(session, user),
            "sparks": await _sparks(session, user),
            "pictures": pictures,
            "voice": voice,
        }
        archive.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2))
    return out.getvalue()


SPARKS_NOTE = "A record of your Sparks when this was made: restoring the file gives none."
_SPARK_PAGE = 500


async def _sparks(session: AsyncSession, user: User) -> dict[str, Any]:
    """The user's balances and every statement line, read without giving today's allowance
    (and without opening accounts for someone who never had Sparks)."""
    conn = await session.connection()
    known = await conn.scalar(
        select(SparkAccount.id).where(SparkAccount.user_id == user.id).limit(1)
    )
    if known is None:
        return {"note": SPARKS_NOTE, "free": 0, "wallet": 0, "held": 0, "lines": []}
    have = await ledger.balances(conn, user.id, lock=False)
    lines: list[credits_service.Line] = []
    while True:
        page = await credits_service.history(conn, user.id, limit=_SPARK_PAGE, offset=len(lines))
        lines += page
        if len(page) < _SPARK_PAGE:
            break
    return {
        "note": SPARKS_NOTE,
        "free": have.free,
        "wallet": have.wallet,
        "held": have.held,
        "lines": [line.model_dump(mode="json") for line in lines_of(lines)],
    }


async def _attestations(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    """What the user affirmed about pictures with faces they uploaded."""
    rows = await session.scalars(
        select(LikenessAttestation)
        .where(LikenessAttestation.user_id == user.id)
        .order_by(LikenessAttestation.id)
    )
    return [
        {
            "character_id": r.character_id,
            "kind": r.kind,
            "statement": r.statement,
            "faces": r.faces,
            "created_at": _when(r.created_at),
        }
        for r in rows
    ]


async def _world_books(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    """Each book with where it applies: built-in characters by slug, the user's own by id,
    chats by id (another user's public character cannot come back, so it is left out)."""
    books = await worldbooks.list_books(session, user)
    links = await worldbooks.links_of(session, [b.id for b in books])
    linked = {c for characters, _ in links.values() for c in characters}
    refs = await export_refs(session, user.id, linked)
    return [
        {
            "name": b.name,
            "enabled": b.enabled,
            "book": b.book,
            "characters": [refs[c] for c in links[b.id][0] if c in refs],
            "conversations": links[b.id][1],
        }
        for b in books
    ]


async def _characters(
    session: AsyncSession, files: FileStore, user: User, archive: zipfile.ZipFile
) -> list[dict[str, Any]]:
    index = []
    rows = await session.scalars(
        select(Character).where(Character.owner_id == user.id).order_by(Character.id)
    )
    for character in rows:
        container = character.card_container or "json"
        card = await exporter.export_character(session, files, character, container)  # type: ignore[arg-type]
        name = f"characters/{character.id}.{container}"
        archive.writestr(name, card.data)
        history = await session.scalars(
            select(CharacterVersion)
            .where(CharacterVersion.character_id == character.id)
            .order_by(CharacterVersion.number)
        )
        archive.writestr(
            f"characters/{character.id}.versions.json",
            json.dumps(
                [
                    {
                        "number": v.number,
                        "note": v.note,
                        "created_at": _when(v.created_at),
                        "fields": v.fields,
                    }
                    for v in history
                ],
                ensure_ascii=False,
                indent=2,
            ),
        )
        index.append(
            {
                "id": character.id,
                "file": name,
                "fields": versions.fields_of(character),
                "version": character.version,
            }
        )
    return index


async def _conversations(
    session: AsyncSession, user: User, archive: zipfile.ZipFile
) -> list[dict[str, Any]]:
    index = []
    rows = await session.scalars(
        select(Conversation).where(Conversation.user_id == user.id).order_by(Conversation.id)
    )
    for conversation in rows:
        character = await session.get(Character, conversation.character_id)
        messages = await session.scalars(
            select(Message).where(Message.conversation_id == conversation.id).order_by(Message.id)
        )
        body = {
            "id": conversation.id,
            "character": (
                {"slug": character.slug}
                if character is not None and character.owner_id is None
                else {"id": conversation.character_id}
            ),
            "title": conversation.title,
            "scene": conversation.scene,
            "preset": conversation.preset,
            "sampler": conversation.sampler,
            "active_root_id": conversation.active_root_id,
            "branched_from_conversation_id": conversation.branched_from_conversation_id,
            "branched_from_message_id": conversation.branched_from_message_id,
            "created_at": _when(conversation.created_at),
            "updated_at": _when(conversation.updated_at),
            "messages": [
                {
                    "id": m.id,
                    "parent_id": m.parent_id,
                    "active_child_id": m.active_child_id,
                    "role": m.role,
                    "content": m.content,
                    "status": m.status,
                    "error": m.error,
                    "created_at": _when(m.created_at),
                    "edited_at": _when(m.edited_at),
                }
                for m in messages
            ],
        }
        name = f"conversations/{conversation.id}.json"
        archive.writestr(name, json.dumps(body, ensure_ascii=False, indent=2))
        index.append({"id": conversation.id, "file": name, "title": conversation.title})
    return index
