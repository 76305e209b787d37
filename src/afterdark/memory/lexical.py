"""The blind lexical index in SQL: FTS5 with BM25 on SQLite, a tsvector on PostgreSQL.

Rows hold blind terms only (memory/blind.py). The table is made by the memories migration:
on SQLite ``memory_terms(terms)`` is an FTS5 table whose rowid is the memory id (a trigger
deletes a memory's row with it); on PostgreSQL ``memory_terms(memory_id, terms)`` has a GIN
index and cascades from ``memories``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

# One scope: the user's memories with this character, plus the user's own (character NULL)
# that every character may use; superseded facts are never retrieved.
_SCOPE = (
    "m.user_id = :user_id AND (m.character_id = :character_id OR m.character_id IS NULL) "
    "AND m.superseded_by_id IS NULL"
)
_USER_WIDE = "m.user_id = :user_id AND m.character_id IS NULL AND m.superseded_by_id IS NULL"

MATCH_BUDGET = 5000
"""Rows a search may score: terms are taken rarest first until their rows would pass this.

Scoring is per matching row (BM25 and the scope join), and a common word in a scope of
100k memories matches tens of thousands; those words weigh little in BM25 anyway. LoCoMo's
figures (scopes of 700 memories) are the same with and without it; at 100k memories it took
the lexical search from 21.7 to 9.6 ms at p95, for recall@10 0.542 -> 0.522
(docs/benchmarks.md)."""
MAX_TERMS = 64
"""Distinct query terms looked at (a pasted page would otherwise make a huge query)."""
OVERFETCH = 4
"""The index is asked for this many times ``limit`` rows before the scope filter: the blind
terms of one user never match another's, so most rows are in scope already."""

# The best rows of the index first, then the scope: FTS5 ranks without touching
# ``memories``, and the join only sees the few rows it keeps.
_SQLITE_TOP = """
SELECT m.id, t.score FROM (
    SELECT rowid AS id, bm25(memory_terms) AS score FROM memory_terms
    WHERE memory_terms MATCH :query ORDER BY score LIMIT :inner
) AS t JOIN memories AS m ON m.id = t.id
WHERE {scope}
ORDER BY t.score, m.id DESC LIMIT :limit
"""
_SQLITE_ALL = """
SELECT m.id, bm25(memory_terms) AS score
FROM memory_terms JOIN memories AS m ON m.id = memory_terms.rowid
WHERE memory_terms MATCH :query AND {scope}
ORDER BY score, m.id DESC LIMIT :limit
"""
_SQLITE_COUNT = "SELECT count(*) FROM memory_terms WHERE memory_terms MATCH :t{n}"
# PostgreSQL's ts_rank knows no document frequency: each term's rank is weighted by an IDF
# from the counts taken to choose the terms (relative to the query's most common term, as
# the table's size is not known cheaply), which brings the sum close to BM25.
_PG_TOP = """
SELECT m.id, t.score FROM (
    SELECT memory_id AS id, {rank} AS score FROM memory_terms
    WHERE terms @@ to_tsquery('simple', :query) ORDER BY score DESC LIMIT :inner
) AS t JOIN memories AS m ON m.id = t.id
WHERE {scope}
ORDER BY t.score DESC, m.id DESC LIMIT :limit
"""
_PG_ALL = """
SELECT m.id, {rank} AS score
FROM memory_terms JOIN memories AS m ON m.id = memory_terms.memory_id
WHERE terms @@ to_tsquery('simple', :query) AND {scope}
ORDER BY score DESC, m.id DESC LIMIT :limit
"""
_PG_TERM_RANK = ":w{n} * ts_rank(terms, to_tsquery('simple', :t{n}), 1)"
_PG_COUNT = "SELECT count(*) FROM memory_terms WHERE terms @@ to_tsquery('simple', :t{n})"


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def write_terms(session: AsyncSession, rows: Sequence[tuple[int, Sequence[str]]]) -> None:
    """Write (or replace) the blind terms of memories: (memory id, terms) pairs."""
    if not rows:
        return
    values = [{"id": memory_id, "terms": " ".join(terms)} for memory_id, terms in rows]
    if _dialect(session) == "sqlite":
        # FTS5 has no upsert: drop any old row first, then insert in one batch.
        await delete_terms(session, [memory_id for memory_id, _ in rows])
        await session.execute(
            text("INSERT INTO memory_terms(rowid, terms) VALUES (:id, :terms)"), values
        )
    else:
        await session.execute(
            text(
                "INSERT INTO memory_terms(memory_id, terms) "
                "VALUES (:id, to_tsvector('simple', :terms)) "
                "ON CONFLICT (memory_id) DO UPDATE SET terms = excluded.terms"
            ),
            values,
        )


async def delete_terms(session: AsyncSession, memory_ids: Sequence[int]) -> None:
    """Remove memories' terms (deleting a memory row does this by itself)."""
    if not memory_ids:
        return
    column = "rowid" if _dialect(session) == "sqlite" else "memory_id"
    statement = text(f"DELETE FROM memory_terms WHERE {column} IN :ids").bindparams(
        bindparam("ids", expanding=True)
    )
    await session.execute(statement, {"ids": list(memory_ids)})


async def search(
    session: AsyncSession,
    *,
    user_id: int,
    character_id: int | None,
    terms: Sequence[str],
    limit: int,
) -> list[tuple[int, float]]:
    """Memories in one scope matching any of the blind terms: (id, score), best first."""
    unique = list(dict.fromkeys(terms))[:MAX_TERMS]
    if not unique or limit <= 0:
        return []
    sqlite = _dialect(session) == "sqlite"
    counts = await _document_counts(session, unique, sqlite)
    chosen, rows = _choose_terms(unique, counts)
    if not chosen:
        return []
    params: dict[str, object] = {
        "user_id": user_id,
        "character_id": character_id,
        "limit": limit,
        "inner": limit * OVERFETCH,
    }
    scope = _SCOPE if character_id is not None else _USER_WIDE
    if sqlite:
        # Terms are base32 after a letter: quoted, they can never read as query syntax.
        params["query"] = " OR ".join(f'"{term}"' for term in chosen)
        top, every, sign = _SQLITE_TOP, _SQLITE_ALL, -1.0  # bm25() is lower for better
        rank = ""
    else:
        params["query"] = " | ".join(chosen)
        top, every, sign = _PG_TOP, _PG_ALL, 1.0
        total = max([*counts.values(), 1])
        parts = []
        for n, term in enumerate(chosen):
            params[f"t{n}"] = term
            params[f"w{n}"] = math.log(1.0 + (total + 1) / (counts[term] + 0.5))
            parts.append(_PG_TERM_RANK.format(n=n))
        rank = " + ".join(parts)
    found = await session.execute(text(top.format(scope=scope, rank=rank)), params)
    result = [(int(row[0]), sign * float(row[1])) for row in found]
    if len(result) < limit and rows > limit * OVERFETCH:
        # The index's best rows were mostly out of scope (the user's other characters,
        # superseded facts): rank the scope's own rows instead.
        found = await session.execute(text(every.format(scope=scope, rank=rank)), params)
        result = [(int(row[0]), sign * float(row[1])) for row in found]
    return result


async def _document_counts(
    session: AsyncSession, terms: Sequence[str], sqlite: bool
) -> dict[str, int]:
    """How many rows hold each term (a user's terms are the user's own: per user, in effect)."""
    count = _SQLITE_COUNT if sqlite else _PG_COUNT
    statement = " UNION ALL ".join(
        f"SELECT {n} AS n, ({count.format(n=n)}) AS rows" for n in range(len(terms))
    )
    params = {f"t{n}": (f'"{term}"' if sqlite else term) for n, term in enumerate(terms)}
    found = await session.execute(text(statement), params)
    return {terms[int(n)]: int(rows) for n, rows in found}


def _choose_terms(terms: Sequence[str], counts: dict[str, int]) -> tuple[list[str], int]:
    """The terms to search with, rarest first within MATCH_BUDGET rows, and those rows."""
    chosen: list[str] = []
    rows = 0
    for term in sorted((t for t in terms if counts.get(t)), key=lambda t: counts[t]):
        if chosen and rows + counts[term] > MATCH_BUDGET:
            break
        chosen.append(term)
        rows += counts[term]
    return chosen, rows
