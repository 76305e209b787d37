"""Hybrid recall: the blind lexical index and exact vector search, fused by rank.

Each side gives its best candidates for the query within one scope. They are fused either
by scaling each side's scores to [0, 1] over the candidates and adding them (the default:
it measured best on LoCoMo, docs/benchmarks.md) or by reciprocal rank fusion (Cormack et
al., 2009), which only reads the orders. Small boosts for recent and important memories
come after; superseded memories never come back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.kit.clock import as_utc, utcnow
from afterdark.memory import blind, lexical, vectors
from afterdark.memory.embeddings import Embedder
from afterdark.memory.models import Memory
from afterdark.privacy.keyring import Keyring


@dataclass(frozen=True)
class Weights:
    """How the two rankings and the boosts combine (defaults measured on LoCoMo).

    ``fusion`` "scores": each side's scores are min-max scaled over the candidates and
    summed with the side's weight; "rrf": reciprocal rank fusion, weight / (rrf_k + rank).
    Boosts are fractions of the best fused score possible.
    """

    fusion: Literal["scores", "rrf"] = "scores"
    candidates: int = 50  # taken from each side before fusing
    lexical: float = 0.5
    vector: float = 0.5
    rrf_k: float = 60.0
    recency: float = 0.05
    half_life_days: float = 180.0
    importance: float = 0.05


WEIGHTS = Weights()


@dataclass
class Recalled:
    """A retrieved memory, its fused score and its 1-based rank on each side (None: absent)."""

    memory: Memory
    score: float
    lexical_rank: int | None
    vector_rank: int | None


async def lexical_ranking(
    session: AsyncSession,
    keyring: Keyring,
    *,
    user_id: int,
    character_id: int | None,
    query: str,
    limit: int,
) -> list[tuple[int, float]]:
    """The blind index's BM25 ranking for a query: (memory id, score), best first."""
    key = await blind.index_key(session, keyring, user_id)
    if key is None:
        return []
    terms = blind.blind_terms(key, blind.tokenize(query))
    return await lexical.search(
        session, user_id=user_id, character_id=character_id, terms=terms, limit=limit
    )


async def vector_ranking(
    session: AsyncSession,
    keyring: Keyring,
    embedder: Embedder,
    *,
    user_id: int,
    character_id: int | None,
    query: vectors.Matrix,
    limit: int,
    wanted: Sequence[int] = (),
) -> tuple[list[tuple[int, float]], dict[int, float]]:
    """The scope's nearest memories to an embedded query, (memory id, cosine) best first,
    and the cosine of each ``wanted`` memory of the scope."""
    scope = await vectors.scope_vectors(
        session,
        keyring,
        user_id=user_id,
        character_id=character_id,
        embedder=embedder.name,
        dim=embedder.dim,
    )
    return await vectors.search(scope, query, limit, wanted)


async def recall(
    session: AsyncSession,
    keyring: Keyring,
    embedder: Embedder,
    *,
    user_id: int,
    character_id: int | None,
    query: str,
    k: int,
    now: datetime | None = None,
    weights: Weights = WEIGHTS,
) -> list[Recalled]:
    """The k memories of the scope that best answer ``query``, best first.

    ``character_id`` None searches only the user's memories shared with every character.
    """
    if k <= 0 or not query.strip():
        return []
    n = max(weights.candidates, k)
    # The model runs in a thread while the lexical query runs on the database.
    embedding = asyncio.ensure_future(asyncio.to_thread(embedder.embed, [query]))
    try:
        lexical_hits = await lexical_ranking(
            session, keyring, user_id=user_id, character_id=character_id, query=query, limit=n
        )
    finally:
        query_vector = (await embedding)[0]
    vector_hits, cosines = await vector_ranking(
        session,
        keyring,
        embedder,
        user_id=user_id,
        character_id=character_id,
        query=query_vector,
        limit=n,
        wanted=[memory_id for memory_id, _ in lexical_hits],
    )
    lexical_rank = {memory_id: rank for rank, (memory_id, _) in enumerate(lexical_hits, 1)}
    vector_rank = {memory_id: rank for rank, (memory_id, _) in enumerate(vector_hits, 1)}
    cosines.update(vector_hits)
    if weights.fusion == "rrf":
        fused = _reciprocal_rank(lexical_rank, vector_rank, weights)
        best_possible = (weights.lexical + weights.vector) / (weights.rrf_k + 1)
    else:
        fused = _scaled_scores(dict(lexical_hits), cosines, weights)
        best_possible = weights.lexical + weights.vector
    if not fused:
        return []

    scores = await _boosted(
        session, fused, user_id, character_id, now or utcnow(), weights, best_possible
    )
    best = sorted(scores, key=lambda memory_id: (-scores[memory_id], -memory_id))[:k]
    loaded = {m.id: m for m in await session.scalars(select(Memory).where(Memory.id.in_(best)))}
    return [
        Recalled(loaded[i], scores[i], lexical_rank.get(i), vector_rank.get(i))
        for i in best
        if i in loaded
    ]


def _reciprocal_rank(
    lexical_rank: dict[int, int], vector_rank: dict[int, int], weights: Weights
) -> dict[int, float]:
    fused: dict[int, float] = {}
    for memory_id, rank in lexical_rank.items():
        fused[memory_id] = weights.lexical / (weights.rrf_k + rank)
    for memory_id, rank in vector_rank.items():
        fused[memory_id] = fused.get(memory_id, 0.0) + weights.vector / (weights.rrf_k + rank)
    return fused


def _scaled_scores(
    bm25: dict[int, float], cosines: dict[int, float], weights: Weights
) -> dict[int, float]:
    """Each side's scores scaled to [0, 1] over the candidates, then weighted and summed.

    A candidate the lexical side did not match scores 0 there (BM25 of no shared term); one
    without a vector (made by another model, not re-embedded yet) gets the lowest cosine.
    Unlike rank fusion this keeps how far apart the scores are: a clear lexical match is
    not pulled down to the level of a vector neighbour that only shares the topic.
    """
    candidates = list(dict.fromkeys([*bm25, *cosines]))
    if not candidates:
        return {}
    lexical = _unit_scale([bm25.get(i, 0.0) for i in candidates])
    floor = min(cosines.values(), default=0.0)
    vector = _unit_scale([cosines.get(i, floor) for i in candidates])
    return {
        memory_id: weights.lexical * lex + weights.vector * vec
        for memory_id, lex, vec in zip(candidates, lexical, vector, strict=True)
    }


def _unit_scale(values: list[float]) -> list[float]:
    low, high = min(values), max(values)
    if high <= low:
        return [1.0 if high > 0 else 0.0 for _ in values]
    return [(value - low) / (high - low) for value in values]


async def _boosted(
    session: AsyncSession,
    fused: dict[int, float],
    user_id: int,
    character_id: int | None,
    now: datetime,
    weights: Weights,
    unit: float,
) -> dict[int, float]:
    """Fused scores plus the boosts, for candidates still in scope and not superseded.

    Reads plain columns only: the few memories finally returned are the only ones opened.
    The check is repeated here because the vector cache may lag behind another session's
    edits (a fact superseded, a memory moved to another character, a rollback).
    """
    rows = await session.execute(
        select(
            Memory.id,
            Memory.user_id,
            Memory.character_id,
            Memory.superseded_by_id,
            Memory.happened_at,
            Memory.created_at,
            Memory.importance,
        ).where(Memory.id.in_(list(fused)))
    )
    scores: dict[int, float] = {}
    for memory_id, owner, character, superseded, happened, created, importance in rows:
        if owner != user_id or superseded is not None:
            continue
        if character is not None and character != character_id:
            continue
        boost = weights.importance * (importance - 0.5)
        if weights.recency:
            age_days = max((now - as_utc(happened or created)).total_seconds(), 0.0) / 86400
            boost += weights.recency * 0.5 ** (age_days / weights.half_life_days)
        scores[memory_id] = fused[memory_id] + boost * unit
    return scores


def select_within_budget(
    recalled: Sequence[Recalled], count_tokens: Callable[[str], int], budget: int
) -> list[Recalled]:
    """The best items whose texts fit in ``budget`` tokens together, in their given order.

    An item too long for what is left is skipped, and a shorter one after it may still fit.
    """
    chosen: list[Recalled] = []
    used = 0
    for item in recalled:
        cost = count_tokens(item.memory.text)
        if used + cost <= budget:
            chosen.append(item)
            used += cost
    return chosen
