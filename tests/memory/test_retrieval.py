"""Hybrid recall over the blind index and sealed vectors: scope, supersession, fusion,
the vector cache, re-embedding and the token budget, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.characters.models import Character
from afterdark.kit.clock import utcnow
from afterdark.memory import blind, lexical, retrieval, vectors
from afterdark.memory.embeddings import Embedder, FakeEmbedder, create_embedder
from afterdark.memory.index import index_memories, reindex_scope, unindex
from afterdark.memory.models import Memory
from afterdark.privacy.keyring import Keyring
from afterdark.store.engine import Database
from tests.memory.helpers import users_named

pytestmark = pytest.mark.xdist_group("postgres")

FAKE = FakeEmbedder()


@dataclass
class World:
    db: Database
    keyring: Keyring
    ada: int
    bo: int
    lamp: int  # two of Ada's characters
    moth: int


@pytest.fixture
async def world(db: Database) -> World:
    assert db.keyring is not None
    keyring = db.keyring
    async with db.session() as session:
        users = users_named("ada", "bo")
        session.add_all(users)
        await session.flush()
        characters = [
            Character(owner_id=users[0].id, version=1, name=name, age=30)
            for name in ("Lamp", "Moth")
        ]
        session.add_all(characters)
        await session.commit()
        made = World(db, keyring, users[0].id, users[1].id, characters[0].id, characters[1].id)
    return made


def memory(user_id: int, character_id: int | None, words: str, **fields: object) -> Memory:
    made = Memory(
        user_id=user_id, character_id=character_id, kind="fact", origin="extracted", **fields
    )
    made.text = words
    return made


async def recall(
    session: AsyncSession,
    world: World,
    query: str,
    *,
    embedder: Embedder = FAKE,
    character_id: int | None = None,
    k: int = 5,
    **options: object,
) -> list[retrieval.Recalled]:
    return await retrieval.recall(
        session,
        world.keyring,
        embedder,
        user_id=world.ada,
        character_id=world.lamp if character_id is None else character_id,
        query=query,
        k=k,
        **options,  # type: ignore[arg-type]
    )


def texts(recalled: list[retrieval.Recalled]) -> list[str]:
    return [r.memory.text for r in recalled]


async def test_lexical_search_respects_scope(world: World) -> None:
    async with world.db.session() as session:
        mine = memory(world.ada, world.lamp, "Ada painted the harbour at dawn.")
        shared = memory(world.ada, None, "Ada keeps a painting of her grandmother.")
        other_character = memory(world.ada, world.moth, "Ada paints with Moth on Sundays.")
        other_user = memory(world.bo, None, "Bo paints too.")
        replaced = memory(world.ada, world.lamp, "Ada paints in oils.")
        newer = memory(world.ada, world.lamp, "Ada switched to watercolours.")
        everything = [mine, shared, other_character, other_user, replaced, newer]
        await index_memories(session, world.keyring, FAKE, everything)
        replaced.superseded_by_id = newer.id
        await session.commit()

        found = await retrieval.lexical_ranking(
            session,
            world.keyring,
            user_id=world.ada,
            character_id=world.lamp,
            query="Who is painting?",
            limit=10,
        )
        assert {memory_id for memory_id, _ in found} == {mine.id, shared.id}
        assert all(score > 0 for _, score in found)
        # The user-wide scope alone: only what every character may see.
        wide = await retrieval.lexical_ranking(
            session, world.keyring, user_id=world.ada, character_id=None, query="paint", limit=10
        )
        assert [memory_id for memory_id, _ in wide] == [shared.id]

        recalled = await recall(session, world, "paints", k=10)
        ids = {r.memory.id for r in recalled}
        assert {mine.id, shared.id} <= ids
        assert not ids & {other_character.id, other_user.id, replaced.id}


async def test_bm25_ranks_the_rarer_word_first(world: World) -> None:
    async with world.db.session() as session:
        common = [memory(world.ada, world.lamp, f"Ada walked the dog, day {n}.") for n in range(6)]
        rare = memory(world.ada, world.lamp, "Ada walked to the lighthouse.")
        await index_memories(session, world.keyring, FAKE, [*common, rare])
        found = await retrieval.lexical_ranking(
            session,
            world.keyring,
            user_id=world.ada,
            character_id=world.lamp,
            query="the walk to the lighthouse",
            limit=3,
        )
        assert found[0][0] == rare.id


async def test_lexical_search_past_other_scopes_and_common_words(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with world.db.session() as session:
        # Moth's memories match better, so the index's best rows are all out of scope.
        others = [memory(world.ada, world.moth, "kite kite kite") for _ in range(6)]
        mine = memory(world.ada, world.lamp, "a kite over the long grey beach at noon")
        common = [memory(world.ada, world.lamp, f"a walk, day {n}") for n in range(5)]
        rare = memory(world.ada, world.lamp, "a walk to the lighthouse")
        await index_memories(session, world.keyring, FAKE, [*others, mine, *common, rare])
        key = await blind.index_key(session, world.keyring, world.ada)
        assert key is not None

        async def search(words: str, limit: int) -> list[int]:
            found = await lexical.search(
                session,
                user_id=world.ada,
                character_id=world.lamp,
                terms=blind.blind_terms(key, blind.tokenize(words)),
                limit=limit,
            )
            return [memory_id for memory_id, _ in found]

        assert await search("kite", 1) == [mine.id]
        assert set(await search("walk lighthouse", 10)) == {rare.id, *(m.id for m in common)}
        # With room for 3 rows only, "walk" (6 rows) is dropped and "lighthouse" kept.
        monkeypatch.setattr(lexical, "MATCH_BUDGET", 3)
        assert await search("walk lighthouse", 10) == [rare.id]


def test_vectors_round_trip() -> None:
    row = FAKE.embed(["a quiet evening by the sea"])[0]
    stored = vectors.encode_vector(row)
    assert stored.isascii()
    assert len(base64.b64decode(stored)) == 2 * len(row)
    back = vectors.decode_vector(stored)
    assert back.dtype == np.float32
    assert back.shape == row.shape
    assert np.allclose(back, row, atol=1e-3)


def test_scope_vectors_add_remove_and_rank() -> None:
    rows = FAKE.embed(["tea with lemon", "a red bicycle", "lemon cake"])
    scope = vectors.ScopeVectors.empty(FAKE.dim)
    scope.add([1, 2], rows[:2])
    before = scope.snapshot()
    scope.add([3], rows[2:])
    query = FAKE.embed(["lemon"])[0]
    assert {memory_id for memory_id, _ in scope.snapshot().rank(query, 2)} == {1, 3}
    assert len(before) == 2  # a search running on an older snapshot is not disturbed
    scope.add([1], rows[1:2])  # re-indexed with other text: replaced, not doubled
    assert len(scope) == 3
    assert scope.snapshot().rank(query, 1)[0][0] == 3
    scope.add([0], rows[:1])  # an older id coming back keeps the ids in order
    assert list(scope.snapshot().ids) == [0, 1, 2, 3]
    scope.remove([3])
    ranked = scope.snapshot().rank(query, 5)
    assert len(ranked) == 3
    assert 3 not in {memory_id for memory_id, _ in ranked}
    assert set(scope.snapshot().cosines(query, [0, 3, 9])) == {0}


def test_big_scopes_are_prefiltered_by_sign_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    generator = np.random.default_rng(3)
    rows = generator.normal(size=(3000, 64)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    scope = vectors.ScopeVectors(np.arange(3000, dtype=np.int64), rows)
    queries = rows[:20] + generator.normal(scale=0.3, size=(20, 64)).astype(np.float32)
    exact = [scope.snapshot().rank(q / np.linalg.norm(q), 10) for q in queries]
    monkeypatch.setattr(vectors, "EXACT_ROWS", 1000)
    monkeypatch.setattr(vectors, "PREFILTER_ROWS", 600)
    quick = [scope.snapshot().rank(q / np.linalg.norm(q), 10) for q in queries]
    same = sum(
        len({i for i, _ in a} & {i for i, _ in b}) for a, b in zip(exact, quick, strict=True)
    )
    assert same >= 0.9 * 200
    # The scores that come back are exact cosines, best first.
    for ranked in quick:
        assert [score for _, score in ranked] == sorted((s for _, s in ranked), reverse=True)


async def test_recall_fuses_both_sides_and_skips_superseded(world: World) -> None:
    async with world.db.session() as session:
        items = [
            memory(world.ada, world.lamp, "Ada's sister lives in Lisbon."),
            memory(world.ada, world.lamp, "Ada's favourite tea is jasmine."),
            memory(world.ada, world.lamp, "Ada once sailed to Lisbon with her sister."),
            memory(world.ada, world.moth, "Ada's sister lives in Lisbon."),  # other character
        ]
        await index_memories(session, world.keyring, FAKE, items)
        recalled = await recall(session, world, "Where does her sister live?", k=3)
        assert recalled[0].memory.id == items[0].id
        assert recalled[0].lexical_rank == 1
        assert recalled[0].vector_rank == 1
        assert recalled[0].score > recalled[-1].score
        assert items[3].id not in {r.memory.id for r in recalled}

        newer = memory(world.ada, world.lamp, "Ada's sister moved to Porto.")
        await index_memories(session, world.keyring, FAKE, [newer])
        items[0].superseded_by_id = newer.id
        await session.flush()
        # The vector cache still holds the old fact: recall must drop it all the same.
        again = await recall(session, world, "Where does her sister live?", k=5)
        assert items[0].id not in {r.memory.id for r in again}
        assert newer.id in {r.memory.id for r in again}


async def test_cache_follows_index_and_unindex(world: World) -> None:
    async with world.db.session() as session:
        first = memory(world.ada, world.lamp, "Ada grows tomatoes on the balcony.")
        await index_memories(session, world.keyring, FAKE, [first])
        await session.commit()
        assert texts(await recall(session, world, "tomatoes")) == [first.text]

        later = memory(world.ada, None, "Ada's balcony faces the river.")
        await index_memories(session, world.keyring, FAKE, [later])
        found = await recall(session, world, "balcony", k=5)
        assert {r.memory.id for r in found} == {first.id, later.id}
        assert all(r.vector_rank is not None for r in found)

        await unindex(session, world.ada, [first.id])
        assert [r.memory.id for r in await recall(session, world, "balcony")] == [later.id]
        # A fresh load (another process, a restart) agrees: the vector is still stored,
        # but the lexical side no longer knows the memory.
        vectors.forget_user(world.ada)
        ranked = await recall(session, world, "tomatoes balcony")
        assert {r.memory.id for r in ranked if r.lexical_rank is not None} == {later.id}


async def test_related_meaning_without_shared_words(world: World) -> None:
    wordllama = create_embedder("wordllama")
    async with world.db.session() as session:
        items = [
            memory(world.ada, world.lamp, words)
            for words in (
                "Ada adopted a puppy last spring.",
                "The car needs new tyres before winter.",
                "Ada baked bread for the neighbours.",
                "The meeting moved to Thursday afternoon.",
            )
        ]
        await index_memories(session, world.keyring, wordllama, items)
        recalled = await recall(session, world, "her dog", embedder=wordllama, k=2)
        assert recalled[0].memory.id == items[0].id
        assert recalled[0].lexical_rank is None
        assert recalled[0].vector_rank == 1


async def test_recency_and_importance_boosts(world: World) -> None:
    now = utcnow()
    async with world.db.session() as session:
        old = memory(world.ada, world.lamp, "Ada likes rain.", happened_at=now - timedelta(300))
        new = memory(world.ada, world.lamp, "Ada likes rain.", happened_at=now - timedelta(1))
        await index_memories(session, world.keyring, FAKE, [old, new])
        # Equal text: without boosts the order is only the tie-break; with recency, newer.
        recent = retrieval.Weights(recency=1.0, half_life_days=30)
        ranked = await recall(session, world, "rain", now=now, weights=recent)
        assert [r.memory.id for r in ranked] == [new.id, old.id]
        old.importance = 1.0
        new.importance = 0.0
        await session.flush()
        weighty = retrieval.Weights(importance=1.0)
        ranked = await recall(session, world, "rain", now=now, weights=weighty)
        assert [r.memory.id for r in ranked] == [old.id, new.id]


async def test_reindex_when_the_embedder_changes(world: World) -> None:
    smaller = FakeEmbedder(dim=32)
    async with world.db.session() as session:
        items = [memory(world.ada, world.lamp, f"note {n} about the garden") for n in range(3)]
        items.append(memory(world.ada, None, "a shared note about the garden"))
        await index_memories(session, world.keyring, FAKE, items)
        await session.commit()
        assert await recall(session, world, "garden", embedder=smaller) != []  # lexical only
        assert all(
            r.vector_rank is None for r in await recall(session, world, "garden", embedder=smaller)
        )

        count = await reindex_scope(
            session, world.keyring, smaller, user_id=world.ada, character_id=world.lamp
        )
        await session.commit()
        assert count == 4
        names = set(await session.scalars(select(Memory.embedder)))
        assert names == {smaller.name}
        ranked = await recall(session, world, "garden", embedder=smaller)
        assert len(ranked) == 4
        assert all(r.vector_rank is not None for r in ranked)
        assert (
            await reindex_scope(
                session, world.keyring, smaller, user_id=world.ada, character_id=world.lamp
            )
            == 0
        )


def test_select_within_budget() -> None:
    def item(words: str, score: float) -> retrieval.Recalled:
        made = Memory(user_id=1, kind="fact")
        made.text = words
        return retrieval.Recalled(made, score, 1, None)

    ranked = [item("one two three", 3), item("one two three four five", 2), item("one", 1)]

    def count(text: str) -> int:  # one token a word is enough here
        return len(text.split())

    assert [r.score for r in retrieval.select_within_budget(ranked, count, 4)] == [3, 1]
    assert [r.score for r in retrieval.select_within_budget(ranked, count, 9)] == [3, 2, 1]
    assert retrieval.select_within_budget(ranked, count, 0) == []
