"""Plain spends applied together by set statements on PostgreSQL (``credits/together.py``).

The same mixed batch (spends that succeed, cross from free to wallet, are refused, repeat an
earlier id, reuse an id for something else, and users' first spends of the day receiving the
allowance) gives exactly the outcomes, transfers and account totals of the per-operation
path; the database's refusals send a batch back to the per-operation path with the same
result; and concurrent spenders on two engines never double-spend through it.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select, text

from afterdark.config import SparksSettings
from afterdark.credits import reconcile, together, transaction
from afterdark.credits.ledger import (
    InsufficientSparksError,
    TransferIdReusedError,
    accounts,
    transfers,
)
from afterdark.credits.service import Sparks
from afterdark.safety.models import WellbeingSettings
from afterdark.store.engine import Database
from afterdark.store.migrate import upgrade
from tests.credits.test_ledger import make_user

SETTINGS = SparksSettings(daily_allowance=50, daily_cap=80)
NOW = datetime(2030, 1, 1, 23, 30, tzinfo=UTC)


async def fresh_database(pg_cluster: Any, name: str) -> Database:
    pg_cluster.psql(f"CREATE DATABASE {name};")
    url = str(pg_cluster.get_uri(name)).replace("postgresql://", "postgresql+asyncpg://", 1)
    database = Database(url)
    await upgrade(database)
    return database


_names = itertools.count()


@pytest.fixture
async def two_databases(pg_cluster: Any) -> AsyncIterator[tuple[Database, Database]]:
    """Two new, migrated PostgreSQL databases: one for each path."""
    tag = f"tg{random.getrandbits(32)}_{next(_names)}"
    first = await fresh_database(pg_cluster, f"{tag}_a")
    second = await fresh_database(pg_cluster, f"{tag}_b")
    try:
        yield first, second
    finally:
        await first.dispose()
        await second.dispose()


def sparks_of(database: Database) -> Sparks:
    return Sparks(database, SETTINGS, clock=lambda: NOW)


async def setup(db: Database) -> None:
    """The same users and history on each database (their ids come out the same)."""
    sparks = sparks_of(db)
    for name in ("ada", "bob", "cy", "dee", "eve", "fay"):
        await make_user(db, name)
    ada, bob, cy, dee, eve = 1, 2, 3, 4, 5  # fay (6) has no accounts yet
    async with db.session() as session:  # a day of its own: already tomorrow at UTC+14
        session.add(WellbeingSettings(user_id=eve, timezone="Pacific/Kiritimati"))
        await session.commit()
    await sparks.statement(ada)  # today's 50 free
    await sparks.grant(ada, 30, reason="test", op="g:ada")
    await sparks.grant(bob, 20, reason="test", op="g:bob")  # bob has not used Sparks today yet
    await sparks.statement(cy)
    await sparks.grant(cy, 100, reason="test", op="g:cy")
    await sparks.spend(cy, 10, op="old", action="test", ref="x:1")
    await sparks.spend(cy, 60, op="taken", action="test")  # "taken" and "taken/2"
    await sparks.grant(eve, 5, reason="test", op="g:eve")
    await sparks.statement(dee, use=False)  # her accounts, but not today's allowance yet


# (user, amount, op): in the order sent.
BATCH = [
    (1, 40, "a1"),  # created, from free
    (1, 20, "a2"),  # created: 10 free, 10 wallet (a second leg)
    (1, 1000, "a3"),  # refused: not enough
    (1, 40, "a1"),  # the same spend again: exists
    (1, 5, "a1"),  # the same id, another amount: reused
    (3, 10, "old"),  # exists, from an earlier transaction
    (3, 10, "old"),  # and again in the same batch
    (3, 3, "taken/2"),  # the id of another operation's second leg: reused
    (2, 10, "old"),  # another user's id: reused, and the allowance it gave is not kept
    (2, 60, "b1"),  # bob's first use today: 50 free + 10 of his wallet
    (4, 100, "d1"),  # dee's first use: refused even with the allowance, which is not kept
    (4, 30, "d2"),  # the allowance comes with this one
    (1, 5, "a4"),
    (1, 5, "a4"),  # sent twice in one batch: created, then exists
    (1, 20, "a2"),  # more than is left, but it already ran: exists
    (5, 55, "e1"),  # eve's own day: her allowance, then all of it and her wallet
    (5, 1, "e2"),  # nothing left: refused
    (6, 10, "f1"),  # fay's first operation ever: her accounts, her allowance, the spend
]


def outcome_of(result: Any) -> tuple[str, ...]:
    if isinstance(result, BaseException):
        return (type(result).__name__, str(result))
    return (result.op, result.status, str(result.amount))


_IDS = ("id", "op", "debit_account_id", "credit_account_id")


async def ledger_rows(db: Database) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every transfer and account, accounts named by whose and which (their serial ids
    may differ: a sequence moves on in a transaction that rolls back)."""
    rest = [c for c in transfers.c if c.name not in (*_IDS, "created_at")]
    async with db.engine.connect() as conn:
        named = {
            row.id: (row.name, row.user_id, row.bucket)
            for row in await conn.execute(select(accounts))
        }
        query = select(*(transfers.c[name] for name in _IDS), *rest).order_by(transfers.c.id)
        moved = [
            (row[0], row[1], named[row[2]], named[row[3]], *row[4:])
            for row in await conn.execute(query)
        ]
        totals = [(named[row.id], *row[1:]) for row in await conn.execute(select(accounts))]
    return moved, sorted(totals, key=repr)


async def sent_together(sparks: Sparks, batch: list[tuple[int, int, str]]) -> list[Any]:
    return await asyncio.gather(
        *(
            sparks.spend(user, amount, op=op, action="test", ref=f"r:{op}")
            for user, amount, op in batch
        ),
        return_exceptions=True,
    )


async def sent_one_by_one(sparks: Sparks, batch: list[tuple[int, int, str]]) -> list[Any]:
    results: list[Any] = []
    for user, amount, op in batch:
        try:
            results.append(await sparks.spend(user, amount, op=op, action="test", ref=f"r:{op}"))
        except Exception as exc:  # compared below
            results.append(exc)
    return results


async def test_a_mixed_batch_matches_the_per_operation_path(
    two_databases: tuple[Database, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    one_by_one, batched = two_databases
    for db in two_databases:
        await setup(db)
    before = dict(transaction.stats)

    with monkeypatch.context() as patch:
        patch.setattr(together, "SET_BASED_SPENDS", False)
        expected = await sent_one_by_one(sparks_of(one_by_one), BATCH)
    got = await sent_together(sparks_of(batched), BATCH)

    assert transaction.stats["together"] == before["together"] + 1  # one batch, set-based
    assert transaction.stats["fallbacks"] == before["fallbacks"]
    assert [outcome_of(r) for r in got] == [outcome_of(r) for r in expected]
    assert [outcome_of(r)[0] for r in got] == [
        "a1", "a2", "InsufficientSparksError", "a1", "TransferIdReusedError", "old", "old",
        "TransferIdReusedError", "TransferIdReusedError", "b1", "InsufficientSparksError",
        "d2", "a4", "a4", "a2", "e1", "InsufficientSparksError", "f1",
    ]  # fmt: skip
    assert [outcome_of(r)[1] for r in got if not isinstance(r, BaseException)] == [
        "created", "created", "exists", "exists", "exists", "created", "created", "created",
        "exists", "exists", "created", "created",
    ]  # fmt: skip
    got_rows, expected_rows = await ledger_rows(batched), await ledger_rows(one_by_one)
    assert got_rows[0] == expected_rows[0]  # the transfers
    assert got_rows[1] == expected_rows[1]  # the accounts' totals
    for db in two_databases:
        report = await reconcile.reconcile(db)
        assert (report.ok, report.total) == (True, 0), (report.drift, report.problems)
    statement = await sparks_of(batched).statement(4, use=False)
    assert (statement.free, statement.wallet) == (20, 0)  # one allowance, 30 of it spent


@pytest.mark.parametrize("blind", ["ids taken", "overdraft"])
async def test_a_batch_the_database_refuses_runs_again_op_by_op(
    two_databases: tuple[Database, Database], monkeypatch: pytest.MonkeyPatch, blind: str
) -> None:
    """The set statements working from a wrong view (ids already taken unseen, balances
    overstated): the database refuses them (the primary key, the no-overdraft check), and
    the batch ends exactly as the per-operation path ends it."""
    one_by_one, batched = two_databases
    for db in two_databases:
        await setup(db)
    if blind == "ids taken":
        monkeypatch.setattr(
            together,
            "_FOUND",
            text(
                "SELECT id, op, phase, kind, user_id, amount FROM spark_transfers "
                "WHERE false AND id = ANY(CAST(:ids AS varchar[])) ORDER BY id"
            ),
        )
        batch = [(3, 10, "old"), (1, 10, "z1"), (1, 10, "z2")]
    else:
        monkeypatch.setattr(
            together,
            "_LOCK",
            text(
                "SELECT id, user_id, bucket, daily_on, "
                "credits_posted - debits_posted - debits_pending + 1000 AS available "
                "FROM spark_accounts WHERE user_id = ANY(CAST(:users AS integer[])) "
                "ORDER BY id FOR UPDATE"
            ),
        )
        batch = [(1, 70, "z1"), (1, 70, "z2"), (3, 10, "z3")]
    before = dict(transaction.stats)

    with monkeypatch.context() as patch:
        patch.setattr(together, "SET_BASED_SPENDS", False)
        expected = await sent_one_by_one(sparks_of(one_by_one), batch)
    got = await sent_together(sparks_of(batched), batch)

    assert transaction.stats["fallbacks"] == before["fallbacks"] + 1
    assert [outcome_of(r) for r in got] == [outcome_of(r) for r in expected]
    if blind == "overdraft":
        assert isinstance(got[1], InsufficientSparksError)
    assert await ledger_rows(batched) == await ledger_rows(one_by_one)
    assert (await reconcile.reconcile(batched)).ok


SPENDERS = 12  # per engine
USERS = 3
BALANCE = 150  # 50 free today, 100 in the wallet
AMOUNT = 7


async def test_concurrent_spenders_on_two_engines_never_double_spend(pg_url: str) -> None:
    """Two engines (two writers: batches in two transactions at once), a dozen spenders on
    each, all spending from the same three users under fresh ids and ids they share,
    until refused: each user's Sparks pay for exactly what they can, each id once."""
    engines = [Database(pg_url), Database(pg_url)]
    await upgrade(engines[0])
    sparks = [sparks_of(db) for db in engines]
    users = [await make_user(engines[0], f"u{n}") for n in range(USERS)]
    for user in users:
        assert (await sparks[0].statement(user)).free == 50
        await sparks[0].grant(user, BALANCE - 50, reason="test")
    shared = [(user, f"shared:{user}:{k}") for user in users for k in range(4)]
    before = dict(transaction.stats)
    created: dict[int, int] = dict.fromkeys(users, 0)
    shared_created = 0

    async def spender(number: int) -> None:
        nonlocal shared_created
        mine = sparks[number % 2]
        for user, op in random.sample(shared, len(shared)):
            outcome = await mine.spend(user, 2, op=op, action="test")
            shared_created += outcome.status == "created"
        left = list(users)
        n = 0
        while left:
            user = left[n % len(left)]
            try:
                await mine.spend(user, AMOUNT, op=f"s{number}:{n}", action="test")
            except InsufficientSparksError:
                left.remove(user)
            else:
                created[user] += 1
            n += 1

    try:
        await asyncio.gather(*(spender(n) for n in range(2 * SPENDERS)))
        assert transaction.stats["together"] > before["together"]
        assert shared_created == len(shared)
        spends, left = divmod(BALANCE - 2 * 4, AMOUNT)
        for user in users:
            assert created[user] == spends
            statement = await sparks[0].statement(user, use=False)
            assert (statement.available, statement.held) == (left, 0)
        async with engines[0].engine.connect() as conn:
            rows = await conn.execute(
                select(transfers.c.op, func.sum(transfers.c.amount))
                .where(transfers.c.kind == "spend")
                .group_by(transfers.c.op)
            )
            per_op = {op: amount for op, amount in rows}
        assert len(per_op) == USERS * spends + len(shared)
        assert sum(per_op.values()) == USERS * (BALANCE - left)
        report = await reconcile.reconcile(engines[0])
        assert (report.ok, report.total) == (True, 0), (report.drift, report.problems)
    finally:
        for db in engines:
            await db.dispose()


async def test_runs_keep_the_order_sent_among_other_operations(
    two_databases: tuple[Database, Database],
) -> None:
    """A hold and a spend racing for one id in one batch: the one sent first wins, as op by
    op, although the spends around them are applied together."""
    _, batched = two_databases
    await setup(batched)
    sparks = sparks_of(batched)
    before = dict(transaction.stats)
    got = await asyncio.gather(
        sparks.spend(1, 1, op="o1", action="test"),
        sparks.spend(2, 1, op="o2", action="test"),
        sparks.hold(1, 3, op="race", action="test"),
        sparks.spend(2, 2, op="race", action="test"),
        sparks.spend(1, 1, op="o3", action="test"),
        sparks.spend(2, 1, op="o4", action="test"),
        return_exceptions=True,
    )
    assert [outcome_of(r)[:2] for r in got[:3]] == [
        ("o1", "created"),
        ("o2", "created"),
        ("race", "created"),
    ]
    assert isinstance(got[3], TransferIdReusedError)
    assert [outcome_of(r)[:2] for r in got[4:]] == [("o3", "created"), ("o4", "created")]
    # Two runs of spends went together: before the hold and after the refused spend.
    assert transaction.stats["together"] >= before["together"] + 2
    assert transaction.stats["fallbacks"] == before["fallbacks"]
