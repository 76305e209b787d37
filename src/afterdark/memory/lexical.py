"""The blind lexical index in SQL: FTS5 with BM25 on SQLite, a tsvector on PostgreSQL.

Rows hold blind terms only (memory/blind.py). The table is made by the memories migration:
on SQLite ``memory_terms(terms)`` is an FTS5 table whose rowid is the memory id (a trigger
deletes a memory's row with it); on PostgreSQL ``memory_terms(memory_id, terms)`` has a GIN
index and cascades from ``memories``.
"""

from __future__ import annotations

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

_SQLITE_SEARCH = """
SELECT m.id, bm25(memory_terms) AS score
FROM memory_terms JOIN memories AS m ON m.id = memory_terms.rowid
WHERE memory_terms MATCH :query AND {scope}
ORDER BY score LIMIT :limit
"""
# ts_rank has no IDF; normalisation 1 divides by 1 + log(document length), close enough for
# a ranking that reciprocal rank fusion only reads the order of.
_PG_SEARCH = """
SELECT m.id, ts_rank(t.terms, q.query, 1) AS score
FROM memory_terms AS t JOIN memories AS m ON m.id = t.memory_id,
     to_tsquery('simple', :query) AS q(query)
WHERE t.terms @@ q.query AND {scope}
ORDER BY score DESC, m.id DESC LIMIT :limit
"""


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
    unique = list(dict.fromkeys(terms))
    if not unique or limit <= 0:
        return []
    scope = _SCOPE if character_id is not None else _USER_WIDE
    params: dict[str, object] = {"user_id": user_id, "character_id": character_id}
    if _dialect(session) == "sqlite":
        # Terms are base32 (letters and digits): quoting keeps them from reading as syntax.
        params["query"] = " OR ".join(f'"{term}"' for term in unique)
        statement = _SQLITE_SEARCH.format(scope=scope)
        sign = -1.0  # FTS5's bm25() is lower for better matches
    else:
        params["query"] = " | ".join(unique)
        statement = _PG_SEARCH.format(scope=scope)
        sign = 1.0
    params["limit"] = limit
    result = await session.execute(text(statement), params)
    return [(int(row[0]), sign * float(row[1])) for row in result]
