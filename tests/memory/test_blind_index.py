"""The blind lexical index: terms are keyed hashes, never the words, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.memory import blind, lexical
from afterdark.memory.embeddings import FakeEmbedder
from afterdark.memory.index import index_memories
from afterdark.memory.models import Memory
from afterdark.privacy.keyring import Keyring
from afterdark.store.engine import Database
from tests.memory.helpers import users_named

pytestmark = pytest.mark.xdist_group("postgres")

SECRET = "marzipan"
EMBEDDER = FakeEmbedder()


@dataclass
class Setup:
    db: Database
    keyring: Keyring
    users: tuple[int, int]


@pytest.fixture
async def setup(db: Database) -> Setup:
    assert db.keyring is not None
    keyring = db.keyring
    async with db.session() as session:
        users = users_named("ada", "bo")
        session.add_all(users)
        await session.commit()
        ids = (users[0].id, users[1].id)
    return Setup(db, keyring, ids)


async def remember(session: AsyncSession, keyring: Keyring, user_id: int, words: str) -> Memory:
    memory = Memory(user_id=user_id, character_id=None, kind="note", origin="user")
    memory.text = words
    await index_memories(session, keyring, EMBEDDER, [memory])
    return memory


async def terms_of(session: AsyncSession, memory_id: int) -> list[str]:
    if session.get_bind().dialect.name == "sqlite":
        value = await session.scalar(
            text("SELECT terms FROM memory_terms WHERE rowid = :id"), {"id": memory_id}
        )
        return str(value).split() if value is not None else []
    # A tsvector prints as 'term':1 'other':2 ...
    value = await session.scalar(
        text("SELECT terms::text FROM memory_terms WHERE memory_id = :id"), {"id": memory_id}
    )
    return [part.split(":")[0].strip("'") for part in str(value).split()] if value else []


def test_tokens_are_normalised() -> None:
    tokens = blind.tokenize("The ﬁrst Café in Zürich: she was PAINTING sunsets in 2023!")
    assert tokens == ["first", "café", "zürich", "paint", "sunset", "2023"]
    assert blind.tokenize("painted paints painting") == ["paint"] * 3
    assert blind.tokenize("parties party married marry") == ["parti", "parti", "marri", "marri"]
    assert blind.tokenize("東京 and Ｔｏｋｙｏ") == ["東京", "tokyo"]


def test_terms_are_ascii_keyed_and_stable() -> None:
    key_a, key_b = blind.derive_index_key(b"a" * 32), blind.derive_index_key(b"b" * 32)
    term = blind.blind_term(key_a, "lighthouse")
    assert term == blind.blind_term(key_a, "lighthouse")
    assert term != blind.blind_term(key_b, "lighthouse")
    assert len(term) == 14
    assert term.isascii()
    assert term.isalnum()
    assert term == term.lower()
    assert term[0].isalpha()  # PostgreSQL would read "12e4..." as a number and a word
    assert blind.blind_terms(key_a, ["a", "b", "a"]) == [
        blind.blind_term(key_a, "a"),
        blind.blind_term(key_a, "b"),
        blind.blind_term(key_a, "a"),
    ]


async def test_index_holds_no_plaintext(setup: Setup, database_url: str) -> None:
    async with setup.db.session() as session:
        memory = await remember(
            session, setup.keyring, setup.users[0], f"Her favourite sweet is {SECRET}."
        )
        await session.commit()
        key = await blind.index_key(session, setup.keyring, setup.users[0])
        assert key is not None
        hashed = blind.blind_term(key, SECRET)
        stored = await terms_of(session, memory.id)
        assert hashed in stored
        assert not any(SECRET in term or "favourit" in term for term in stored)
        if database_url.startswith("postgresql"):
            everything = await session.scalar(
                text("SELECT string_agg(terms::text, ' ') FROM memory_terms")
            )
            assert SECRET not in str(everything)
    if database_url.startswith("sqlite"):
        await setup.db.dispose()  # so the WAL is checkpointed into the file
        path = Path(database_url.split("///", 1)[1])
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert SECRET.encode() not in raw
        assert hashed.encode() in raw


async def test_two_users_hash_the_same_word_apart(setup: Setup) -> None:
    async with setup.db.session() as session:
        first = await remember(session, setup.keyring, setup.users[0], "lighthouse")
        second = await remember(session, setup.keyring, setup.users[1], "lighthouse")
        a, b = await terms_of(session, first.id), await terms_of(session, second.id)
        assert len(a) == len(b) == 1
        assert a != b


async def test_rotation_keeps_the_index_key(setup: Setup) -> None:
    user = setup.users[0]
    async with setup.db.session() as session:
        before = await remember(session, setup.keyring, user, "lighthouse keeper")
        await session.commit()
        assert await setup.keyring.rotate(session, user) == 2
        after = await remember(session, setup.keyring, user, "lighthouse")
        await session.commit()
        assert (await terms_of(session, after.id))[0] in await terms_of(session, before.id)
        key = await blind.index_key(session, setup.keyring, user)
        assert key is not None
        found = await lexical.search(
            session,
            user_id=user,
            character_id=None,
            terms=blind.blind_terms(key, blind.tokenize("lighthouse")),
            limit=5,
        )
        assert {memory_id for memory_id, _ in found} == {before.id, after.id}


async def test_deleting_a_memory_takes_its_terms(setup: Setup) -> None:
    async with setup.db.session() as session:
        kept = await remember(session, setup.keyring, setup.users[0], "the blue kettle")
        gone = await remember(session, setup.keyring, setup.users[0], "the red kettle")
        await session.commit()
        # SQLite: the trigger; PostgreSQL: the foreign key's cascade.
        await session.execute(delete(Memory).where(Memory.id == gone.id))
        await session.commit()
        assert await terms_of(session, gone.id) == []
        assert len(await terms_of(session, kept.id)) == 2


async def test_shredded_keys_leave_nothing_to_search_with(setup: Setup) -> None:
    user = setup.users[0]
    async with setup.db.session() as session:
        await remember(session, setup.keyring, user, "lighthouse")
        await session.commit()
        await setup.keyring.shred(session, user)
        blind.forget(setup.keyring, user)
        await session.commit()
        assert await blind.index_key(session, setup.keyring, user) is None


async def test_every_term_stays_one_token(setup: Setup) -> None:
    # 64-bit terms in base32 have digits: the full-text parsers must never split one.
    words = " ".join(f"w{n}" for n in range(3000))
    async with setup.db.session() as session:
        made = await remember(session, setup.keyring, setup.users[0], words)
        key = await blind.index_key(session, setup.keyring, setup.users[0])
        assert key is not None
        expected = set(blind.blind_terms(key, blind.tokenize(words)))
        assert len(expected) == 3000
        assert set(await terms_of(session, made.id)) == expected
