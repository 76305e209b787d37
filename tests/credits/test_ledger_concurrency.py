"""Concurrent spenders on one user's Sparks, on SQLite (a file) and PostgreSQL: asyncio tasks
(on one engine, where their operations share transactions, or an engine each), OS threads
and OS processes (an engine each, so their own connections). Exactly as many spends succeed
as the balance pays for, the rest are refused, ids shared between spenders are applied
once, and the books reconcile; operations sent together fail alone. Then a crash: a process
holds Sparks and is killed before it settles them (or before it even commits); the hold
shows as held, expires exactly once and the books still reconcile."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Barrier, Event
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from afterdark.config import SparksSettings
from afterdark.credits import ledger, reconcile
from afterdark.credits.ledger import InsufficientSparksError, Meta, transfers
from afterdark.credits.service import Sparks
from afterdark.credits.transaction import in_transaction
from afterdark.store.engine import Database
from tests.credits.test_ledger import make_user

# A user has 50 free Sparks (spent first) and what the test grants: spends cross from one
# bucket to the other, so one made on a stale balance would take the wrong split or be
# refused. One fixed day: no allowance turns up halfway.
SETTINGS = SparksSettings(daily_allowance=50, daily_cap=50)
FREE = 50
NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
AMOUNT = 7
SHARED = [f"shared:{n}" for n in range(5)]  # every spender sends these ids too
SHARED_AMOUNT = 2
spawn = multiprocessing.get_context("spawn")


@dataclass
class Tally:
    """What one spender saw: spends made, shared ids it created, spends refused."""

    spends: int = 0
    shared: int = 0
    refused: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.spends + other.spends, self.shared + other.shared, self.refused + other.refused
        )


def sparks_of(database: Database) -> Sparks:
    return Sparks(database, SETTINGS, clock=lambda: NOW)


async def funded_user(db: Database, sparks: Sparks, balance: int, name: str = "ada") -> int:
    """A user with ``balance`` Sparks: today's free ones, the rest in the wallet."""
    user = await make_user(db, name)
    assert (await sparks.statement(user)).free == FREE
    await sparks.grant(user, balance - FREE, reason="test")
    return user


async def spend_until_refused(url: str, user: int, tag: str, start: Any = None) -> Tally:
    """The shared ids, then spends of AMOUNT under fresh ids until the Sparks run out; on
    its own ``Database`` (its own connections)."""
    database = Database(url)
    sparks = sparks_of(database)
    tally = Tally()
    try:
        await sparks.statement(user, use=False)  # connected before the race starts
        if start is not None:
            await asyncio.to_thread(start.wait)
        for op in SHARED:
            outcome = await sparks.spend(user, SHARED_AMOUNT, op=op, action="test")
            tally.shared += outcome.status == "created"
        while True:
            try:
                await sparks.spend(user, AMOUNT, op=f"{tag}:{tally.spends}", action="test")
            except InsufficientSparksError:
                tally.refused += 1
                return tally
            tally.spends += 1
    finally:
        await database.dispose()


async def assert_spent_exactly(db: Database, user: int, balance: int, tally: Tally) -> None:
    """The spenders together spent what the balance paid for, once per id, and no more."""
    spends, left = divmod(balance - SHARED_AMOUNT * len(SHARED), AMOUNT)
    assert (tally.spends, tally.shared) == (spends, len(SHARED))
    statement = await sparks_of(db).statement(user, use=False)
    assert (statement.available, statement.held) == (left, 0)
    async with db.engine.connect() as conn:
        per_op = dict(
            (
                await conn.execute(
                    select(transfers.c.op, func.sum(transfers.c.amount))
                    .where(transfers.c.user_id == user, transfers.c.kind == "spend")
                    .group_by(transfers.c.op)
                )
            ).all()
        )
    assert len(per_op) == spends + len(SHARED)
    assert all(per_op[op] == SHARED_AMOUNT for op in SHARED)
    assert sum(per_op.values()) == balance - left
    report = await reconcile.reconcile(db)
    assert (report.ok, report.total) == (True, 0), (report.drift, report.problems)


@pytest.mark.parametrize("engines", ["one engine", "an engine each"])
async def test_tasks_spend_exactly_what_there_is(db: Database, engines: str) -> None:
    sparks = sparks_of(db)
    balance = 100
    user = await funded_user(db, sparks, balance)
    own = [Database(db.url) for _ in range(24)] if engines == "an engine each" else [db] * 24

    async def one_spend(number: int) -> bool:
        try:
            await sparks_of(own[number]).spend(user, AMOUNT, op=f"task:{number}", action="test")
        except InsufficientSparksError:
            return False
        return True

    try:
        won = await asyncio.gather(*(one_spend(n) for n in range(24)))
    finally:
        for database in set(own) - {db}:
            await database.dispose()
    assert sum(won) == balance // AMOUNT  # 14 spends; the other 10 refused
    statement = await sparks.statement(user, use=False)
    assert statement.available == balance % AMOUNT
    assert (await reconcile.reconcile(db)).ok


async def test_tasks_race_on_shared_ids_and_the_last_sparks(db: Database) -> None:
    sparks = sparks_of(db)
    balance = 150
    user = await funded_user(db, sparks, balance)
    tallies = await asyncio.gather(
        *(spend_until_refused(db.url, user, f"task{n}") for n in range(6))
    )
    await assert_spent_exactly(db, user, balance, sum(tallies, Tally()))


async def test_threads_race_on_shared_ids_and_the_last_sparks(db: Database) -> None:
    sparks = sparks_of(db)
    balance = 200
    user = await funded_user(db, sparks, balance)
    start = threading.Barrier(6)
    tallies: list[Tally] = []
    errors: list[BaseException] = []

    def spender(number: int) -> None:
        try:  # each thread: its own event loop and Database
            tallies.append(asyncio.run(spend_until_refused(db.url, user, f"thread{number}", start)))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
            start.abort()

    threads = [threading.Thread(target=spender, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    await asyncio.to_thread(lambda: [thread.join(60) for thread in threads])
    assert errors == []
    await assert_spent_exactly(db, user, balance, sum(tallies, Tally()))


@contextlib.contextmanager
def running(processes: Iterable[BaseProcess]) -> Iterator[list[BaseProcess]]:
    """Start the processes; afterwards wait for them, and kill any still running."""
    started = list(processes)
    for process in started:
        process.start()
    try:
        yield started
    finally:
        for process in started:
            process.join(60)
            if process.is_alive():
                process.kill()
                process.join()


def _spender_process(url: str, user: int, tag: str, start: Barrier, results: Any) -> None:
    """A separate OS process (spawned): its own interpreter, engine and connections."""
    results.put(asyncio.run(spend_until_refused(url, user, tag, start)))


async def test_processes_race_on_shared_ids_and_the_last_sparks(db: Database) -> None:
    sparks = sparks_of(db)
    balance = 120
    user = await funded_user(db, sparks, balance)
    start, results = spawn.Barrier(3), spawn.Queue()
    with running(
        spawn.Process(target=_spender_process, args=(db.url, user, f"proc{n}", start, results))
        for n in range(3)
    ) as processes:
        tallies = [await asyncio.to_thread(results.get, True, 60) for _ in processes]
    assert [p.exitcode for p in processes] == [0, 0, 0]
    await assert_spent_exactly(db, user, balance, sum(tallies, Tally()))


async def test_operations_sent_together_fail_alone(db: Database) -> None:
    """Operations sent at the same time share a transaction: one that fails, before or
    after writing, or on a statement the database refuses, leaves the others done."""
    sparks = sparks_of(db)
    user = await funded_user(db, sparks, 100)

    def spend(op: str, amount: int, then_fail: bool = False) -> Any:
        async def work(conn: AsyncConnection) -> str:
            have = await ledger.balances(conn, user)
            sink = await ledger.system_account(conn, "spending")
            meta = Meta(kind="spend", user_id=user)
            outcome = await ledger.debit_user(conn, op, have, sink, amount, meta)
            if then_fail:
                raise RuntimeError("failed after writing")
            return outcome.status

        return work

    async def refused_by_the_database(conn: AsyncConnection) -> None:
        # A second transfer under an id that is taken: the primary key refuses it.
        await conn.execute(insert(transfers).values(dict(await first_transfer(conn))))

    works = [
        spend("one", 10),
        spend("spoiled", 20, then_fail=True),
        spend("two", 10),
        refused_by_the_database,
        spend("too-much", 500),
        spend("three", 10),
    ]
    results = await asyncio.gather(*(in_transaction(db, w) for w in works), return_exceptions=True)
    assert [results[n] for n in (0, 2, 5)] == ["created"] * 3
    assert isinstance(results[1], RuntimeError)
    assert isinstance(results[3], IntegrityError)
    assert isinstance(results[4], InsufficientSparksError)
    statement = await sparks.statement(user, use=False)
    assert statement.available == 70
    async with db.engine.connect() as conn:
        ops = set((await conn.scalars(select(transfers.c.op))).all())
    assert {"one", "two", "three"} <= ops
    assert not {"spoiled", "too-much"} & ops
    assert (await reconcile.reconcile(db)).ok


async def first_transfer(conn: AsyncConnection) -> Any:
    return (await conn.execute(select(transfers).limit(1))).mappings().one()


# --- a crash between reserve and post ------------------------------------------------


def _hold_then_die(url: str, user: int, committed: bool, ready: Event) -> None:
    """Hold 30 Sparks for one minute, then die by SIGKILL: after the commit (a crash
    between reserve and post), or before it (a crash inside the transaction)."""

    async def hold() -> None:
        database = Database(url)
        sparks = sparks_of(database)
        if committed:
            await sparks.hold(user, 30, op="crash:hold", action="chat.reply", minutes=1)
            os.kill(os.getpid(), signal.SIGKILL)
        async with database.engine.connect() as conn:
            if database.is_sqlite:
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
            await sparks.hold_reply(conn, user, generation_id=1, max_tokens=3000)
            ready.set()
            await asyncio.sleep(60)  # killed here, the transaction still open

    asyncio.run(hold())


async def test_a_hold_outlives_a_crash_then_expires_exactly_once(db: Database) -> None:
    sparks = sparks_of(db)
    user = await funded_user(db, sparks, 100)
    unused = spawn.Event()
    with running([spawn.Process(target=_hold_then_die, args=(db.url, user, True, unused))]) as [
        process
    ]:
        pass
    assert process.exitcode == -signal.SIGKILL
    # The process died before settling: its hold stays, and keeps the Sparks from spending.
    held = await sparks.statement(user, use=False)
    assert (held.available, held.held) == (70, 30)
    with pytest.raises(InsufficientSparksError):
        await sparks.spend(user, 71, op="too-much", action="test")
    assert await sparks.expire_stale(NOW) == 0  # not stale yet

    # Past its expiry, expiry runs at once from several places: it releases the hold once.
    later = NOW + timedelta(minutes=2)
    others = [Database(db.url) for _ in range(3)]
    try:
        released = await asyncio.gather(
            *(sparks_of(d).expire_stale(later) for d in [db, db, *others])
        )
    finally:
        for database in others:
            await database.dispose()
    assert sum(released) == 1
    after = await sparks.statement(user, use=False)
    assert (after.available, after.held) == (100, 0)
    assert (await sparks.settle("crash:hold", 30)).status == "exists"  # too late: no charge
    assert (await sparks.statement(user, use=False)).available == 100
    async with db.engine.connect() as conn:
        voids = (
            await conn.execute(
                select(transfers.c.phase, transfers.c.kind, transfers.c.amount).where(
                    transfers.c.pending_id == "crash:hold"
                )
            )
        ).all()
    assert [tuple(v) for v in voids] == [("void", "expire", 30)]
    report = await reconcile.reconcile(db)
    assert (report.ok, report.total) == (True, 0), (report.drift, report.problems)


async def test_a_crash_inside_the_transaction_leaves_nothing(db: Database) -> None:
    sparks = sparks_of(db)
    user = await funded_user(db, sparks, 100)
    ready = spawn.Event()
    with running([spawn.Process(target=_hold_then_die, args=(db.url, user, False, ready))]) as [
        process
    ]:
        assert await asyncio.to_thread(ready.wait, 60)
        assert process.pid is not None
        os.kill(process.pid, signal.SIGKILL)
    assert process.exitcode == -signal.SIGKILL
    # The uncommitted hold is gone with its process, and the ledger takes writes at once.
    async with asyncio.timeout(10):
        spent = await sparks.spend(user, 100, op="after-the-crash", action="test")
    assert spent.status == "created"
    async with db.engine.connect() as conn:
        ops = set((await conn.scalars(select(transfers.c.op))).all())
    assert "reply:1" not in ops
    assert (await reconcile.reconcile(db)).ok
