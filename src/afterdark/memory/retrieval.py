"""Hybrid recall: the blind lexical index and the in-process vector search, fused.

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
    Boosts are fractions of the best fused score possible; recency halves every
    ``half_life_days`` from when the memory happened, importance counts from 0.5.
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
    query: str,
    limit: int,
) -> list[tuple[int, float]]:
    """The scope's nearest memories to a query: (memory id, cosine), best first."""
    snapshot = await _snapshot(session, keyring, embedder, user_id, character_id)
    vector = (await asyncio.to_thread(embedder.embed, [query]))[0]
    return await asyncio.to_thread(snapshot.rank, vector, limit)


async def _snapshot(
    session: AsyncSession,
    keyring: Keyring,
    embedder: Embedder,
    user_id: int,
    character_id: int | None,
) -> vectors.Snapshot:
    scope = await vectors.scope_vectors(
        session,
        keyring,
        user_id=user_id,
        character_id=character_id,
        embedder=embedder.name,
        dim=embedder.dim,
    )
    return scope.snapshot()


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
    snapshot = await _snapshot(session, keyring, embedder, user_id, character_id)

    def embed_and_rank() -> tuple[vectors.Matrix, list[tuple[int, float]]]:
        vector = embedder.embed([query])[0]
        return vector, snapshot.rank(vector, n)

    # The model and the vector scan run in a thread while the database runs the lexical
    # query: the two sides cost about the same, so this nearly halves the wait.
    vector_side = asyncio.ensure_future(asyncio.to_thread(embed_and_rank))
    try:
        lexical_hits = await lexical_ranking(
            session, keyring, user_id=user_id, character_id=character_id, query=query, limit=n
        )
    finally:
        query_vector, vector_hits = await vector_side
    cosines = snapshot.cosines(query_vector, [memory_id for memory_id, _ in lexical_hits])
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
        session, fused, k, user_id, character_id, now or utcnow(), weights, best_possible
    )
    best = sorted(scores, key=lambda pair: (-pair[1], -pair[0].id))[:k]
    return [
        Recalled(memory, score, lexical_rank.get(memory.id), vector_rank.get(memory.id))
        for memory, score in best
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
    k: int,
    user_id: int,
    character_id: int | None,
    now: datetime,
    weights: Weights,
    unit: float,
) -> list[tuple[Memory, float]]:
    """The final scores (fused plus boosts) of every candidate that can reach the top k.

    Only those are loaded (and opened): the boosts are bounded, so a candidate whose fused
    score is more than their range below the k-th can never climb into the top k. Scope and
    supersession are checked again on the loaded rows, as the vector cache may lag behind
    another session's edits (a fact superseded, a memory moved, a rollback).
    """
    order = sorted(fused, key=lambda memory_id: (-fused[memory_id], -memory_id))
    reach = (weights.recency + weights.importance) * unit
    scores: list[tuple[Memory, float]] = []
    done = 0
    while done < len(order):
        if len(scores) >= k:
            floor = sorted(fused[memory.id] for memory, _ in scores)[-k] - reach
            wanted = [i for i in order[done:] if fused[i] >= floor]
        else:
            # Enough for the top k with a few spare (some may turn out to be out of scope),
            # and everything the boosts could lift past the k-th: one query as a rule.
            wanted = order[done : done + k - len(scores) + 4]
            floor = fused[order[min(done + k, len(order)) - 1]] - reach
            wanted += [i for i in order[done + len(wanted) :] if fused[i] >= floor]
        if not wanted:
            break
        done += len(wanted)
        rows = await session.scalars(select(Memory).where(Memory.id.in_(wanted)))
        for memory in rows:
            if memory.user_id != user_id or memory.superseded_by_id is not None:
                continue
            if memory.character_id is not None and memory.character_id != character_id:
                continue
            boost = weights.importance * (memory.importance - 0.5)
            if weights.recency:
                when = as_utc(memory.happened_at or memory.created_at)
                age_days = max((now - when).total_seconds(), 0.0) / 86400
                boost += weights.recency * 0.5 ** (age_days / weights.half_life_days)
            scores.append((memory, fused[memory.id] + boost * unit))
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
