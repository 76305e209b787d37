"""Export a user, import the zip into a fresh instance: everything comes back."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from afterdark.accounts import service as accounts_service
from afterdark.accounts.models import User
from afterdark.accounts.schemas import UserCreate
from afterdark.characters import catalogue, exporter, importer, versions
from afterdark.characters import service as characters_service
from afterdark.characters.models import Character
from afterdark.characters.schemas import CharacterCreate, CharacterUpdate
from afterdark.chat import service as chat_service
from afterdark.chat.models import Conversation, Message
from afterdark.chat.schemas import ConversationCreate
from afterdark.config import MemorySettings
from afterdark.errors import ConflictError, InvalidInputError
from afterdark.memory import retrieval, worldbooks
from afterdark.memory import service as memory_service
from afterdark.memory.context import MemoryContext
from afterdark.memory.models import Memory
from afterdark.privacy.export import export_user
from afterdark.privacy.restore import import_user
from afterdark.safety import wellbeing
from afterdark.safety.schemas import WellbeingPublic
from afterdark.store.engine import Database
from afterdark.store.files import FileStore
from afterdark.store.migrate import upgrade
from tests.conftest import fresh_keyring
from tests.support.shared import CARDS

pytestmark = pytest.mark.xdist_group("postgres")


async def instance(url: str) -> Database:
    db = Database(url, keyring=fresh_keyring())
    await upgrade(db)
    async with db.session() as session:
        await catalogue.seed_catalogue(session)
        await session.commit()
    return db


@pytest.fixture
async def two(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Database, Database]]:
    first = await instance(database_url)
    second = await instance(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    yield first, second
    await first.dispose()
    await second.dispose()


async def tree(session: Any, conversation: Conversation) -> list[tuple[Any, ...]]:
    rows = list(
        await session.scalars(
            select(Message).where(Message.conversation_id == conversation.id).order_by(Message.id)
        )
    )
    position = {m.id: n for n, m in enumerate(rows)}
    return [
        (
            position.get(m.parent_id),
            position.get(m.active_child_id),
            m.role,
            m.content,
            m.status,
        )
        for m in rows
    ]


async def new_user(session: Any) -> User:
    return await accounts_service.create_user(
        session,
        UserCreate(email="kim@example.com", password="x" * 12, birthdate=date(1990, 1, 1)),
        min_age=18,
    )


async def test_export_then_import_restores_the_user(
    two: tuple[Database, Database], tmp_path: Path
) -> None:
    source, fresh = two
    files_a, files_b = FileStore(tmp_path / "a"), FileStore(tmp_path / "b")
    async with source.session() as session:
        user = await new_user(session)
        await accounts_service.update_persona(session, user, "Kim", "A night-shift nurse.")
        world = await worldbooks.import_book(
            session, user, (CARDS / "st_Eldoria_world_info.json").read_bytes(), "eldoria.json"
        )
        world.enabled = False
        await wellbeing.update_settings(
            session, user, WellbeingPublic(daily_minutes=90, timezone="Europe/Paris")
        )
        made = await characters_service.create_character(
            session,
            user,
            CharacterCreate(
                name="Odile Marsh",
                age=38,
                description="Hosts a radio show.",
                first_message="You're on the air.",
                book={"entries": [{"keys": ["radio"], "content": "Static.", "x_keep": 1}]},
            ),
        )
        await characters_service.update_character(
            session, user, made.id, CharacterUpdate(tagline="Night radio", note="tagline")
        )
        card = await importer.import_card(
            session, files_a, user, (CARDS / "st_default_Seraphina.png").read_bytes(), "s.png"
        )
        await characters_service.update_character(session, user, card.id, CharacterUpdate(age=25))
        builtin = (await characters_service.list_characters(session, None))[0]
        chats = [
            await chat_service.create_conversation(
                session, user, ConversationCreate(character_id=cid, scene="rain")
            )
            for cid in (made.id, builtin.id)
        ]
        for target, target_id in (
            ("character", made.id),
            ("character", builtin.id),
            ("conversation", chats[1].id),
        ):
            await worldbooks.link(session, user, world.id, target, target_id)  # type: ignore[arg-type]
        root = (
            await session.scalars(select(Message).where(Message.conversation_id == chats[0].id))
        ).first()
        assert root is not None
        question = Message(
            conversation_id=chats[0].id,
            user_id=chats[0].user_id,
            parent_id=root.id,
            role="user",
            content="Hi ✨",
        )
        session.add(question)
        await session.flush()
        for text in ("First swipe.", "Second swipe."):
            session.add(
                Message(
                    conversation_id=chats[0].id,
                    user_id=chats[0].user_id,
                    parent_id=question.id,
                    role="assistant",
                    content=text,
                )
            )
        await session.flush()
        root.active_child_id = question.id
        context = MemoryContext(source.keyring, MemorySettings(embedder="fake"))  # type: ignore[arg-type]
        old_fact = await memory_service.add_memory(
            session,
            context,
            user,
            character_id=made.id,
            text="Kim works nights.",
            kind="fact",
            origin="extracted",
            category="user",
            source_ids=[question.id],
        )
        new_fact = await memory_service.add_memory(
            session,
            context,
            user,
            character_id=None,
            text="Kim works days now.",
            kind="fact",
            origin="extracted",
            category="user",
            pinned=True,
            source_ids=[question.id],
        )
        old_fact.superseded_by_id = new_fact.id
        await session.commit()
        expected_fields = {
            c.name: (versions.fields_of(c), c.version)
            for c in await session.scalars(select(Character).where(Character.owner_id == user.id))
        }
        expected_trees = [await tree(session, c) for c in chats]
        png_before = (await exporter.export_character(session, files_a, card, "png")).data
        data = await export_user(session, files_a, user)

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("afterdark-export.json"))
    assert f"characters/{card.id}.png" in names
    assert manifest["account"]["email"] == "kim@example.com"
    assert "password" not in json.dumps(manifest)

    async with fresh.session() as session:
        fresh_context = MemoryContext(fresh.keyring, MemorySettings(embedder="fake"))  # type: ignore[arg-type]
        restored = await import_user(
            session, files_b, data, password="new password 1", memory=fresh_context
        )
        await session.commit()
        assert restored.age_check_method.endswith("+imported")
        back = {
            m.text: m
            for m in await session.scalars(select(Memory).where(Memory.user_id == restored.id))
        }
        assert set(back) == {"Kim works nights.", "Kim works days now."}
        day, night = back["Kim works days now."], back["Kim works nights."]
        assert (day.pinned, day.character_id, night.superseded_by_id) == (True, None, day.id)
        [source_message] = await memory_service.sources(session, restored, day)
        assert source_message.content == "Hi ✨"
        found = await retrieval.recall(
            session,
            fresh.keyring,  # type: ignore[arg-type]
            await fresh_context.embedder(),
            user_id=restored.id,
            character_id=night.character_id or 0,
            query="when does Kim work",
            k=5,
        )
        assert day.id in [r.memory.id for r in found]  # indexed again on import
        assert (
            await accounts_service.authenticate(session, "kim@example.com", "new password 1")
        ).id == restored.id
        persona = await accounts_service.get_persona(session, restored)
        assert (persona.name, persona.description) == ("Kim", "A night-shift nurse.")
        settings = await wellbeing.get_settings(session, restored)
        assert (settings.daily_minutes, settings.timezone) == (90, "Europe/Paris")
        [world_back] = await worldbooks.list_books(session, restored)
        assert (world_back.name, world_back.enabled) == ("eldoria", False)
        assert world_back.book == world.book
        links = (await worldbooks.links_of(session, [world_back.id]))[world_back.id]
        odile_back = next(
            c.id
            for c in await session.scalars(
                select(Character).where(Character.owner_id == restored.id)
            )
            if c.name == "Odile Marsh"
        )
        builtin_chat = await session.scalar(
            select(Conversation.id).where(
                Conversation.user_id == restored.id, Conversation.character_id == builtin.id
            )
        )
        assert links == ([odile_back, builtin.id], [builtin_chat])
        got = {
            c.name: (versions.fields_of(c), c.version)
            for c in await session.scalars(
                select(Character).where(Character.owner_id == restored.id)
            )
        }
        assert got == expected_fields
        odile = next(c for c in await session.scalars(select(Character)) if c.name == "Odile Marsh")
        history = await versions.history(session, odile)
        assert [(v.number, v.note) for v in history] == [(2, "tagline"), (1, "Created")]
        seraphina = next(
            c for c in await session.scalars(select(Character)) if c.name == "Seraphina"
        )
        png_after = (await exporter.export_character(session, files_b, seraphina, "png")).data
        assert png_after == png_before
        conversations = list(
            await session.scalars(
                select(Conversation)
                .where(Conversation.user_id == restored.id)
                .order_by(Conversation.id)
            )
        )
        assert [await tree(session, c) for c in conversations] == expected_trees
        assert conversations[1].character_id == (
            await session.scalar(select(Character.id).where(Character.slug == builtin.slug))
        )

        with pytest.raises(ConflictError):
            await import_user(session, files_b, data, password="another pass")
    async with fresh.session() as session:
        with pytest.raises(InvalidInputError, match="Not an Afterdark export"):
            await import_user(session, files_b, b"PK\x03\x04junk", password="x" * 10)


async def test_an_explicit_character_is_restored_yet_stays_locked(
    two: tuple[Database, Database], tmp_path: Path
) -> None:
    source, fresh = two
    files_a, files_b = FileStore(tmp_path / "a"), FileStore(tmp_path / "b")
    async with source.session() as session:
        user = await new_user(session)
        # Made while the user was verified and opted in (the service checks that).
        session.add(
            Character(owner_id=user.id, name="Late Show", age=40, rating="explicit", version=1)
        )
        await session.commit()
        data = await export_user(session, files_a, user)
    async with fresh.session() as session:
        restored = await import_user(session, files_b, data, password="new password 1")
        await session.commit()
        kept = await session.scalar(select(Character).where(Character.owner_id == restored.id))
        assert kept is not None
        assert kept.rating == "explicit"
        assert kept.name == "Late Show"
        assert await characters_service.list_characters(session, restored, mine=True) == []
