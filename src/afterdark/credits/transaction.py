"""Write transactions for the ledger, with the same guarantees on SQLite and PostgreSQL.

SQLite: ``BEGIN IMMEDIATE`` takes the write lock before the first read, so the balances an
operation reads cannot change under it (a deferred transaction could read, then fail to
upgrade to a writer). PostgreSQL: the user's account rows are locked ``FOR UPDATE`` when
read (``ledger.balances``); a deadlock (40P01) or serialization failure (40001) rolls the
whole transaction back and it runs again, which is safe because operations are idempotent.

Group commit: the operations a process sends at the same time share one transaction (up to
``BATCH``), as TigerBeetle batches, so a commit, a connection checkout and, on SQLite, the
write lock are paid once per batch instead of once per operation. The operations of a
batch run one after the other, each seeing those before it, so each keeps the guarantees
above. Each stays isolated: one that fails before writing anything just reports its error;
one that fails after writing (the statement counter in ``conn.info`` moved, or the
database itself refused a statement) is taken out, the transaction rolls back and the
others run again without it. Nothing is reported until the commit. On SQLite the batch
runs in a worker thread on a plain ``sqlite3`` connection of its own: SQLAlchemy's async
bridge costs several times the statement itself there (see docs/benchmarks.md).

Operations given as data as well (``Together``: plain spends, ``together.py``) may be
applied together: on PostgreSQL, each run of two or more consecutive members of a batch with
the same ``apply`` is handed to it at once, to be applied by a few set statements, in the
order sent among the operations run one by one; ``apply`` gives each its result or error, as
its ``work`` would have. When
``apply`` raises (the database refused a statement, or ``together.Fallback``), the
transaction rolls back and the batch runs again with every operation's own ``work``.

A ``work`` may only await the connection it is given (on SQLite its coroutine is run to
the end in the worker thread without an event loop), may not call ``in_transaction``
itself, and must let database errors propagate (on PostgreSQL one swallowed would leave
the shared transaction aborted). A caller cancelled while its operation runs may find it
done: operations are idempotent, so repeating one is how to know.
"""

from __future__ import annotations

import asyncio
import random
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import Engine, Select, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from afterdark.store.engine import Database, _sqlite_pragmas

T = TypeVar("T")
RETRYABLE = frozenset({"40001", "40P01"})
ATTEMPTS = 8
BATCH = 64
"""The most operations in one transaction (on SQLite about 25 ms of work here)."""
WRITES = "afterdark.statements_that_may_write"
"""``conn.info`` entry: statements run on the connection that were not plain SELECTs."""
_in_batch: ContextVar[bool] = ContextVar("afterdark_ledger_batch", default=False)
stats = {"together": 0, "fallbacks": 0}
"""Batches applied ``Together`` by set statements, and those run again op by op instead."""


@dataclass(frozen=True, slots=True)
class Together:
    """An operation as data: ``apply(conn, items)`` applies several such at once, giving
    each item's result or error (an exception instance) in order."""

    apply: Callable[[Any, list[Any]], Awaitable[list[Any]]]
    item: Any


def sqlstate(exc: DBAPIError) -> str | None:
    """The SQLSTATE of a driver error, where the driver gives one (asyncpg does)."""
    for error in (exc.orig, getattr(exc.orig, "__cause__", None)):
        code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, DBAPIError) and sqlstate(exc) in RETRYABLE


async def in_transaction(
    database: Database,
    work: Callable[[AsyncConnection], Awaitable[T]],
    *,
    together: Together | None = None,
) -> T:
    """Run ``work`` in a write transaction (shared with other operations sent meanwhile)
    and commit; retried on 40001 / 40P01. ``together``: the same operation as data, which
    the batch may apply with others of its kind instead of running ``work``."""
    if _in_batch.get():
        raise RuntimeError("in_transaction cannot be nested: use the connection you were given")
    writer = _writer(database)
    loop = asyncio.get_running_loop()
    if writer is None or not writer.serves(loop):
        return await _alone(database, work)
    future: asyncio.Future[T] = loop.create_future()
    writer.submit(_Op(work, future, together), loop)
    return await future


async def _alone(database: Database, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """One operation in its own transaction (an in-memory SQLite database, or a writer
    busy on another event loop)."""
    for attempt in range(ATTEMPTS):
        try:
            async with database.engine.connect() as conn:
                if database.is_sqlite:
                    await conn.exec_driver_sql("BEGIN IMMEDIATE")
                result = await work(conn)
                await conn.commit()
                return result
        except DBAPIError as exc:
            if not _retryable(exc) or attempt == ATTEMPTS - 1:
                raise
            await asyncio.sleep(random.uniform(0, 0.002 * 2**attempt))
    raise AssertionError("unreachable")


# --- one operation and one batch -------------------------------------------------------


class _Op(Generic[T]):
    """An operation waiting for, or running in, a batch."""

    __slots__ = ("work", "future", "together", "result", "error")

    def __init__(
        self,
        work: Callable[[Any], Awaitable[T]],
        future: asyncio.Future[T],
        together: Together | None = None,
    ) -> None:
        self.work = work
        self.future = future
        self.together = together
        self.result: T | None = None
        self.error: BaseException | None = None

    def deliver(self) -> None:
        if self.future.done():  # the caller was cancelled
            return
        if self.error is not None:
            self.future.set_exception(self.error)
        else:
            self.future.set_result(cast(T, self.result))


async def _run_batch(
    conn: Any, ops: list[_Op[Any]], begin: str | None, *, together: bool = False
) -> None:
    """Run ``ops`` on ``conn`` (an ``AsyncConnection``, or ``_SyncBridge``) in one
    transaction and commit; each op ends with its result or its error. ``together``: apply
    runs of operations given as data together (``_in_order``)."""
    todo = list(ops)
    while todo:
        if begin:
            await conn.exec_driver_sql(begin)
        if together:
            try:
                spoiled = await _in_order(conn, todo)
            except Exception as exc:
                if _retryable(exc):
                    raise
                await conn.rollback()  # refused, or not covered: this batch op by op
                stats["fallbacks"] += 1
                together = False
                continue
        else:
            spoiled = await _each(conn, todo)
        if spoiled is None:
            await conn.commit()
            return
        await conn.rollback()  # it wrote before failing: undo everything, run the rest again
        todo.remove(spoiled)


def _runs(todo: list[_Op[Any]]) -> list[list[_Op[Any]]]:
    """The ops in the order sent, cut where the kind of operation-as-data changes."""
    runs: list[list[_Op[Any]]] = []
    for op in todo:
        kind = op.together.apply if op.together is not None else None
        last = runs[-1][-1] if runs else None
        if (
            last is not None
            and kind is not None
            and last.together is not None
            and (last.together.apply == kind)
        ):
            runs[-1].append(op)
        else:
            runs.append([op])
    return runs


async def _in_order(conn: Any, todo: list[_Op[Any]]) -> _Op[Any] | None:
    """Run the ops in the order sent: each run of two or more of one kind given as data
    applied together, the others one by one; the first op that failed after changing
    something, if one did. Keeping the order keeps every outcome what it would be op by op
    (two operations racing for one id, say)."""
    for run in _runs(todo):
        if len(run) < 2:
            if (spoiled := await _each(conn, run)) is not None:
                return spoiled
            continue
        token = _in_batch.set(True)
        try:
            apply = cast(Together, run[0].together).apply
            outcomes = await apply(conn, [cast(Together, op.together).item for op in run])
        finally:
            _in_batch.reset(token)
        for op, outcome in zip(run, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                op.result, op.error = None, outcome
            else:
                op.result, op.error = outcome, None
        stats["together"] += 1
    return None


async def _each(conn: Any, todo: list[_Op[Any]]) -> _Op[Any] | None:
    """Run each op; the first that failed after changing something, if one did."""
    token = _in_batch.set(True)
    try:
        for op in todo:
            op.result, op.error = None, None
            before = conn.info.get(WRITES, 0)
            try:
                op.result = await op.work(conn)
            except Exception as exc:
                if _retryable(exc):
                    raise
                op.error = exc
                if isinstance(exc, DBAPIError) or conn.info.get(WRITES, 0) != before:
                    return op
        return None
    finally:
        _in_batch.reset(token)


def _count_writes(
    conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
) -> None:
    """``before_cursor_execute``: count each statement that may change something."""
    if not isinstance(getattr(getattr(context, "compiled", None), "statement", None), Select):
        conn.info[WRITES] = conn.info.get(WRITES, 0) + 1


# --- the writers -----------------------------------------------------------------------


class _Writer:
    """The batches of one database in one process: operations queue up while a batch runs,
    and the next batch takes them all (up to ``BATCH``)."""

    def __init__(self) -> None:
        self.pending: list[_Op[Any]] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[None] | None = None

    def serves(self, loop: asyncio.AbstractEventLoop) -> bool:
        return self.task is None or self.loop is loop

    def submit(self, op: _Op[Any], loop: asyncio.AbstractEventLoop) -> None:
        self.pending.append(op)
        if self.task is None:
            self.loop = loop
            self.task = loop.create_task(self._drain())

    async def _drain(self) -> None:
        batch: list[_Op[Any]] = []
        try:
            while self.pending:
                batch = [op for op in self.pending[:BATCH] if not op.future.done()]
                del self.pending[:BATCH]
                if batch:
                    await self._attempts(batch)
        finally:
            self.task = None
            for op in [*batch, *self.pending]:  # left only when this task was cancelled
                op.future.cancel()
            self.pending.clear()
            await self.idle()

    async def _attempts(self, batch: list[_Op[Any]]) -> None:
        for attempt in range(ATTEMPTS):
            try:
                await self.run(batch)
                break
            except Exception as exc:
                if _retryable(exc) and attempt < ATTEMPTS - 1:
                    await asyncio.sleep(random.uniform(0, 0.002 * 2**attempt))
                    continue
                for op in batch:
                    op.error = exc
                break
        for op in batch:
            op.deliver()

    async def run(self, batch: list[_Op[Any]]) -> None:
        """Run one batch in one transaction and commit (or raise for all of it)."""
        raise NotImplementedError

    async def idle(self) -> None:
        """Nothing is queued any more."""


class _AsyncWriter(_Writer):
    """PostgreSQL: batches on the app's own engine, in the event loop, on one connection
    for as long as batches follow each other."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__()
        self.engine = engine
        self.conn: AsyncConnection | None = None
        if not event.contains(engine.sync_engine, "before_cursor_execute", _count_writes):
            event.listen(engine.sync_engine, "before_cursor_execute", _count_writes)

    async def run(self, batch: list[_Op[Any]]) -> None:
        if self.conn is None:
            self.conn = await self.engine.connect()
        try:
            await _run_batch(self.conn, batch, None, together=True)
        except BaseException:
            await self.idle()  # rolled back with it; a broken connection is not reused
            raise

    async def idle(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            await conn.close()


class _ThreadWriter(_Writer):
    """SQLite: batches in a worker thread, on a plain ``sqlite3`` connection kept open."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.conn: Connection | None = None
        # One batch at a time on the connection, even one left running by a cancelled task.
        self.lock = threading.Lock()
        event.listen(engine, "before_cursor_execute", _count_writes)

    async def run(self, batch: list[_Op[Any]]) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._in_thread, batch)

    def _in_thread(self, batch: list[_Op[Any]]) -> None:
        with self.lock:
            if self.conn is None:
                self.conn = self.engine.connect()
            try:
                _run_to_end(_run_batch(_SyncBridge(self.conn), batch, "BEGIN IMMEDIATE"))
            except BaseException:
                self._drop()  # rolled back with it; the next batch connects again
                raise

    def _drop(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()

    def close(self) -> None:
        """The database is gone: close the connection and its engine."""
        with self.lock:
            self._drop()
            self.engine.dispose()


class _SyncBridge:
    """What a ledger ``work`` uses of an ``AsyncConnection``, on a plain ``Connection``:
    every call completes at once, so the work never waits on an event loop."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect
        self.info = conn.info

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        return self.conn.execute(*args, **kwargs)

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        return self.conn.scalar(*args, **kwargs)

    async def scalars(self, *args: Any, **kwargs: Any) -> Any:
        return self.conn.scalars(*args, **kwargs)

    async def exec_driver_sql(self, *args: Any, **kwargs: Any) -> Any:
        return self.conn.exec_driver_sql(*args, **kwargs)

    async def commit(self) -> None:
        self.conn.commit()

    async def rollback(self) -> None:
        self.conn.rollback()


def _run_to_end(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine that never suspends (it only awaits a ``_SyncBridge``)."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()
    raise RuntimeError("a ledger transaction on SQLite may only await its connection")


_writers: weakref.WeakKeyDictionary[Database, _Writer | None] = weakref.WeakKeyDictionary()


def _writer(database: Database) -> _Writer | None:
    """The database's writer, made on first use (None: operations run alone)."""
    if database not in _writers:
        _writers[database] = _make_writer(database)
    return _writers[database]


def _make_writer(database: Database) -> _Writer | None:
    if not database.is_sqlite:
        return _AsyncWriter(database.engine)
    url = make_url(database.url)
    if url.database in (None, "", ":memory:"):
        return None  # every connection would have a database of its own
    engine = create_engine(
        url.set(drivername="sqlite"),
        connect_args={"timeout": 30, "check_same_thread": False},
        pool_size=1,
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    writer = _ThreadWriter(engine)
    weakref.finalize(database, writer.close)
    return writer
