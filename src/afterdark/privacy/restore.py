"""Restore a user from an export zip into this instance (a fresh one, or one without them).

The zip is read with the same caps as CharX cards (member count, sizes counted while
inflating, safe paths). Ids are renumbered; built-in characters are found by slug.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts import service as accounts_service
from afterdark.accounts.models import Persona, User
from afterdark.accounts.passwords import hash_password
from afterdark.characters import importer
from afterdark.characters.books import check_book
from afterdark.characters.cards import DEFAULT_LIMITS, CardError
from afterdark.characters.cards.ziparchive import read_zip
from afterdark.characters.models import CharacterVersion
from afterdark.characters.refs import resolve_ref
from afterdark.chat.models import Conversation, Message
from afterdark.errors import ConflictError, InvalidInputError
from afterdark.images.portable import restore_pictures
from afterdark.kit.clock import utcnow
from afterdark.memory import worldbooks
from afterdark.memory.context import MemoryContext
from afterdark.memory.models import WorldBook, WorldBookLink
from afterdark.memory.portable import restore_memories
from afterdark.privacy.export import FORMAT, FORMAT_VERSION, MANIFEST
from afterdark.safety import wellbeing
from afterdark.safety.schemas import WellbeingPublic
from afterdark.store.files import FileStore
from afterdark.voice.portable import restore_voice

LIMITS = replace(DEFAULT_LIMITS, max_file_bytes=1024 * 2**20, max_zip_total_bytes=4096 * 2**20)


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


async def import_user(
    session: AsyncSession,
    files: FileStore,
    data: bytes,
    *,
    password: str,
    email: str = "",
    memory: MemoryContext | None = None,
) -> User:
    """Create the exported user here, with a new password, and everything they had
    (memories are indexed for retrieval when ``memory`` is given)."""
    try:
        members = dict(read_zip(data, LIMITS))
    except CardError as exc:
        raise InvalidInputError(f"Not an Afterdark export: {exc}") from None
    try:
        manifest = json.loads(members[MANIFEST])
    except (KeyError, ValueError):
        raise InvalidInputError(f"Not an Afterdark export: {MANIFEST} is missing.") from None
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise InvalidInputError("This export was made by a format this version cannot read.")
    user = await _account(session, manifest, password, email)
    characters = await _characters(session, files, user, manifest, members)
    seen = Renumbered()
    for entry in manifest.get("conversations", []):
        body = json.loads(members[entry["file"]])
        await _conversation(session, user, body, characters, seen)
    await _world_books(session, user, manifest, characters, seen.conversations)

    async def character_of(reference: Any) -> int | None:
        return await resolve_ref(session, reference, characters)

    await restore_pictures(
        session,
        files,
        user,
        manifest.get("pictures") or {},
        members,
        character_of=character_of,
        conversations=seen.conversations,
        messages=seen.messages,
    )
    await restore_voice(
        session,
        files,
        user,
        manifest.get("voice"),
        members,
        characters=characters,
        messages=seen.messages,
    )
    await restore_memories(
        session,
        memory,
        user,
        manifest.get("memories") or [],
        characters=characters,
        conversations=seen.conversations,
        messages=seen.messages,
    )
    await session.flush()
    return user


async def _account(
    session: AsyncSession, manifest: dict[str, Any], password: str, email: str
) -> User:
    account = manifest["account"]
    address = accounts_service.normalise_email(email or account["email"])
    if await accounts_service.get_user_by_email(session, address):
        raise ConflictError(f"An account for {address} already exists here.")
    first = (await session.scalar(select(func.count(User.id)))) == 0
    user = User(
        email=address,
        password_hash=await hash_password(password),
        display_name=account.get("display_name", ""),
        is_admin=first,
        # The age check passed where the account was made; its outcome travels, nothing more.
        age_checked_at=_time(account.get("age_checked_at")) or utcnow(),
        age_check_method=f"{account.get('age_check_method', 'unknown')}+imported"[:40],
    )
    session.add(user)
    await session.flush()
    persona = manifest.get("persona", {})
    session.add(
        Persona(
            user_id=user.id,
            name=str(persona.get("name") or address.split("@", 1)[0])[:100],
            description=str(persona.get("description", "")),
        )
    )
    if "wellbeing" in manifest:
        await wellbeing.update_settings(
            session, user, WellbeingPublic.model_validate(manifest["wellbeing"])
        )
    await session.flush()
    return user


async def _world_books(
    session: AsyncSession,
    user: User,
    manifest: dict[str, Any],
    characters: dict[int, int],
    conversations: dict[int, int],
) -> None:
    """The world books, with their links to the restored characters and chats."""
    for world in manifest.get("world_books", []):
        if not isinstance(world, dict) or not isinstance(world.get("book"), dict):
            raise InvalidInputError("A world book in the export has no book.")
        check_book(world["book"])
        row = WorldBook(
            user_id=user.id,
            name=str(world.get("name") or "World book")[: worldbooks.MAX_NAME],
            enabled=world.get("enabled", True) is not False,
            book=world["book"],
        )
        session.add(row)
        await session.flush()
        targets: dict[tuple[str, int], None] = {}  # in the export's order, once each
        for reference in world.get("characters") or []:
            character_id = await resolve_ref(session, reference, characters)
            if character_id is not None:
                targets["character_id", character_id] = None
        for old in world.get("conversations") or []:
            if isinstance(old, int) and old in conversations:
                targets["conversation_id", conversations[old]] = None
        for column, target_id in targets:
            session.add(WorldBookLink(book_id=row.id, **{column: target_id}))


async def _characters(
    session: AsyncSession,
    files: FileStore,
    user: User,
    manifest: dict[str, Any],
    members: dict[str, bytes],
) -> dict[int, int]:
    """Import each card, then put back its exact fields and history; old id -> new id."""
    mapping: dict[int, int] = {}
    for entry in manifest.get("characters", []):
        name = entry["file"]
        parsed = importer.parse_card_file(members[name], name)
        character = await importer.store_card(session, files, user, parsed, name)
        for name_, value in entry["fields"].items():
            setattr(character, name_, value)
        character.version = int(entry.get("version", 1))
        await session.execute(
            delete(CharacterVersion).where(CharacterVersion.character_id == character.id)
        )
        history = json.loads(members.get(name.rsplit(".", 1)[0] + ".versions.json", b"[]"))
        for version in history:
            session.add(
                CharacterVersion(
                    character_id=character.id,
                    owner_id=character.owner_id,
                    number=version["number"],
                    note=version.get("note", ""),
                    fields=version["fields"],
                    created_at=_time(version.get("created_at")) or utcnow(),
                )
            )
        mapping[int(entry["id"])] = character.id
    await session.flush()
    return mapping


@dataclass
class Renumbered:
    """Old ids to new ones, across conversations (a branch points at its origin)."""

    conversations: dict[int, int] = field(default_factory=dict)
    messages: dict[int, int] = field(default_factory=dict)


async def _conversation(
    session: AsyncSession,
    user: User,
    body: dict[str, Any],
    characters: dict[int, int],
    seen: Renumbered,
) -> None:
    character_id = await resolve_ref(session, body.get("character"), characters)
    if character_id is None:
        raise InvalidInputError(
            f"Conversation {body.get('title')!r} is with a character this instance lacks."
        )
    conversation = Conversation(
        user_id=user.id,
        character_id=character_id,
        title=body.get("title", ""),
        scene=body.get("scene", ""),
        preset=body.get("preset", "balanced"),
        sampler=body.get("sampler") or {},
        created_at=_time(body.get("created_at")) or utcnow(),
        branched_from_conversation_id=seen.conversations.get(
            body.get("branched_from_conversation_id") or -1
        ),
        branched_from_message_id=seen.messages.get(body.get("branched_from_message_id") or -1),
    )
    session.add(conversation)
    await session.flush()
    seen.conversations[int(body["id"])] = conversation.id
    ids: dict[int, int] = {}
    rows: list[tuple[dict[str, Any], Message]] = []
    for item in sorted(body["messages"], key=lambda m: m["id"]):
        message = Message(
            conversation_id=conversation.id,
            user_id=user.id,
            parent_id=ids.get(item["parent_id"]) if item.get("parent_id") else None,
            role=item["role"],
            content=item["content"],
            status=item.get("status", "complete"),
            error=item.get("error"),
            created_at=_time(item.get("created_at")) or utcnow(),
            edited_at=_time(item.get("edited_at")),
        )
        session.add(message)
        await session.flush()
        ids[item["id"]] = message.id
        rows.append((item, message))
    for item, message in rows:
        if item.get("active_child_id"):
            message.active_child_id = ids.get(item["active_child_id"])
    conversation.active_root_id = ids.get(body.get("active_root_id") or -1)
    seen.messages.update(ids)
    await session.flush()
