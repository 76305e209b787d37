"""Write transactions for the ledger, with the same guarantees on SQLite and PostgreSQL.

SQLite: ``BEGIN IMMEDIATE`` takes the write lock before the first read, so the balances an
operation reads cannot change under it (a deferred transaction could read, then fail to
upgrade to a writer). PostgreSQL: the user's account rows are locked ``FOR UPDATE`` when
read (``ledger.balances``); a deadlock (40P01) or serialization failure (40001) rolls the
whole operation back and it runs again, which is safe because operations are idempotent.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from afterdark.store.engine import Database

T = TypeVar("T")
RETRYABLE = frozenset({"40001", "40P01"})
ATTEMPTS = 8


def sqlstate(exc: DBAPIError) -> str | None:
    """The SQLSTATE of a driver error, where the driver gives one (asyncpg does)."""
    for error in (exc.orig, getattr(exc.orig, "__cause__", None)):
        code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


async def in_transaction(database: Database, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """Run ``work`` in one write transaction and commit; retried on 40001 / 40P01."""
    for attempt in range(ATTEMPTS):
        try:
            async with database.engine.connect() as conn:
                if database.is_sqlite:
                    await conn.exec_driver_sql("BEGIN IMMEDIATE")
                result = await work(conn)
                await conn.commit()
                return result
        except DBAPIError as exc:
            if sqlstate(exc) not in RETRYABLE or attempt == ATTEMPTS - 1:
                raise
            await asyncio.sleep(random.uniform(0, 0.002 * 2**attempt))
    raise AssertionError("unreachable")
