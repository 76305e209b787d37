"""Ledger benchmark: Sparks spends per second, against a bare insert per transaction.

Each database is opened the way the app opens it (``Database`` + ``upgrade``): SQLite in a
file under a temporary folder, PostgreSQL in a throwaway ``pgserver`` cluster. At each level
N concurrent clients (asyncio tasks in this one process, sharing the one ``Database`` and
its connection pool, as a web worker does) call ``Sparks.spend`` for 1 Spark in a loop for
``--seconds``, each on its own user and with a fresh operation id per spend: the whole
service path (the daily allowance check, the user's balances read and locked, the transfer
written, the account updated, the commit; on PostgreSQL the spends that share a batch are
applied together by set statements, ``credits/together.py``). The figure is spends committed
per second.

The **baseline** is measured in the same run, at the same levels, on the same engine: each
client inserts one row into a scratch table per transaction (``BEGIN IMMEDIATE`` on
SQLite, as the ledger does): the cheapest write transaction this stack makes, one per
operation. A ratio above 1 is the ledger's group commit (many spends per transaction)
winning back more than the spends cost. ``us/op`` is this process's CPU time per spend
(the PostgreSQL server's is not counted).

**Double spends** are counted from the transfers afterwards, never from what the clients
were told:

* every level: each user's spend transfers against the spends its client saw succeed;
  after the races, every account's stored totals against its transfers (``reconcile``);
* same ids: every client sends the same operation ids for one user, shuffled; each id must
  be written once and debit once;
* last Sparks: every client spends 1 Spark of one user's last ``--race-sparks`` at once;
  exactly that many may succeed, the rest are refused and the balance ends at 0;
* one hold: every client settles or expires the same hold at once; it is resolved once,
  and only one call may report that it resolved it.

Targets (printed with PASS or FAIL, never asserted): at least 2,000 spends/s on SQLite and
5,000/s on PostgreSQL at each level, and no double spend.

    .venv/bin/python benchmarks/ledger.py                  # 5 s per level: about 2 minutes
    .venv/bin/python benchmarks/ledger.py --quick          # 1 s per level
    .venv/bin/python benchmarks/ledger.py --databases sqlite --levels 1,16 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, text

from afterdark.accounts.models import User
from afterdark.config import SparksSettings
from afterdark.credits import reconcile
from afterdark.credits.ledger import InsufficientSparksError, transfers
from afterdark.credits.service import Sparks
from afterdark.kit.clock import utcnow
from afterdark.store.engine import Database
from afterdark.store.migrate import upgrade

TARGETS = {"sqlite": 2_000, "postgresql": 5_000}
LEVELS = (1, 16, 64)
WALLET = 10**9


@dataclass
class Level:
    clients: int
    spends: int = 0
    seconds: float = 0.0
    cpu: float = 0.0  # this process's CPU time over the wall time (2.0 = both cores)
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    baseline: float = 0.0  # bare insert transactions per second
    double_spends: int = 0

    @property
    def rate(self) -> float:
        return self.spends / self.seconds if self.seconds else 0.0

    @property
    def cpu_us(self) -> float:
        """This process's CPU time per spend (the database server's not included)."""
        return self.cpu * self.seconds / self.spends * 1e6 if self.spends else 0.0


@dataclass
class Races:
    same_ids: str = ""
    last_sparks: str = ""
    one_hold: str = ""
    double_spends: int = 0
    reconcile_ok: bool = False


@dataclass
class Run:
    database: str
    levels: list[Level] = field(default_factory=list)
    races: Races = field(default_factory=Races)


# --- the databases -----------------------------------------------------------------------


@contextlib.contextmanager
def database_url(kind: str, folder: str) -> Iterator[str]:
    """A new, empty database of ``kind`` under ``folder``; the server stops afterwards."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{folder}/ledger.db"
        return
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    import pgserver

    server = pgserver.get_server(os.path.join(folder, "pg"), cleanup_mode="stop")
    try:
        server.psql("CREATE DATABASE ledger;")
        yield str(server.get_uri("ledger")).replace("postgresql://", "postgresql+asyncpg://", 1)
    finally:
        server.cleanup()


async def make_users(db: Database, count: int, prefix: str) -> list[int]:
    async with db.session() as session:
        users = [
            User(
                email=f"{prefix}{n}@example.com",
                password_hash="-",
                age_checked_at=utcnow(),
                age_check_method="benchmark",
            )
            for n in range(count)
        ]
        session.add_all(users)
        await session.commit()
        return [user.id for user in users]


# --- the levels --------------------------------------------------------------------------


async def timed(
    clients: int, seconds: float, step: Callable[[int, int], Awaitable[bool]]
) -> tuple[int, float, float, list[float]]:
    """Run ``step(client, n)`` in a loop on each client for ``seconds``: how many returned
    True, the wall time, the CPU share and the latencies (s)."""
    latencies: list[float] = []
    done = 0
    stop = time.perf_counter() + seconds

    async def client(number: int) -> None:
        nonlocal done
        n = 0
        while time.perf_counter() < stop:
            began = time.perf_counter()
            if await step(number, n):
                done += 1
            latencies.append(time.perf_counter() - began)
            n += 1

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(client(number) for number in range(clients)))
    wall = time.perf_counter() - wall
    return done, wall, (time.process_time() - cpu) / wall, latencies


async def spend_level(
    sparks: Sparks, users: list[int], clients: int, seconds: float, tag: str
) -> tuple[Level, dict[int, int]]:
    succeeded: dict[int, int] = dict.fromkeys(users[:clients], 0)

    async def step(number: int, n: int) -> bool:
        user = users[number]
        await sparks.spend(user, 1, op=f"{tag}:{number}:{n}", action="chat.reply")
        succeeded[user] += 1
        return True

    spends, wall, cpu, latencies = await timed(clients, seconds, step)
    level = Level(clients, spends, wall, cpu)
    level.p50_ms = statistics.median(latencies) * 1000
    level.p99_ms = statistics.quantiles(latencies, n=100)[98] * 1000 if len(latencies) > 1 else 0
    return level, succeeded


async def baseline_level(db: Database, clients: int, seconds: float) -> float:
    """Bare write transactions per second: one row inserted per transaction."""

    async def step(number: int, n: int) -> bool:
        async with db.engine.connect() as conn:
            if db.is_sqlite:
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
            await conn.execute(
                text("INSERT INTO bench_baseline (client, n) VALUES (:client, :n)"),
                {"client": number, "n": n},
            )
            await conn.commit()
        return True

    inserts, wall, _, _ = await timed(clients, seconds, step)
    return inserts / wall


async def spent_by_transfers(db: Database, tag: str) -> dict[int, int]:
    """Per user, the Sparks its spends under ``tag`` took, summed from the transfers."""
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            select(transfers.c.user_id, func.sum(transfers.c.amount))
            .where(transfers.c.op.like(f"{tag}:%"), transfers.c.phase == "posted")
            .group_by(transfers.c.user_id)
        )
        return {int(user): int(amount) for user, amount in rows}


# --- the races ---------------------------------------------------------------------------


async def race_same_ids(sparks: Sparks, db: Database, user: int, clients: int) -> int:
    """Every client sends the same 50 ids, shuffled: how many were applied more than once
    (outcomes reported ``created``, transfers written, or Sparks taken, beyond one each)."""
    ids = [f"same:{n}" for n in range(50)]
    before = (await sparks.statement(user)).available
    created = 0

    async def client() -> None:
        nonlocal created
        for op in random.sample(ids, len(ids)):
            outcome = await sparks.spend(user, 3, op=op, action="chat.reply")
            created += outcome.status == "created"

    await asyncio.gather(*(client() for _ in range(clients)))
    taken = before - (await sparks.statement(user)).available
    async with db.engine.connect() as conn:
        written = await conn.scalar(
            select(func.coalesce(func.sum(transfers.c.amount), 0)).where(
                transfers.c.op.like("same:%")
            )
        )
    return max(created - len(ids), (int(written or 0) - 3 * len(ids)) // 3, (taken - 150) // 3, 0)


async def race_last_sparks(
    sparks: Sparks, db: Database, user: int, clients: int, budget: int
) -> tuple[int, int, int]:
    """Every client spends 1 of the user's last ``budget`` Sparks: (succeeded, refused, left)."""
    have = (await sparks.statement(user)).available
    await sparks.grant(user, budget, reason="benchmark")
    if have:
        await sparks.revoke(user, have, reason="benchmark")
    succeeded = refused = 0

    async def client(number: int) -> None:
        nonlocal succeeded, refused
        n = 0
        while True:
            try:
                await sparks.spend(user, 1, op=f"last:{number}:{n}", action="chat.reply")
            except InsufficientSparksError:
                refused += 1
                return
            succeeded += 1
            n += 1

    await asyncio.gather(*(client(number) for number in range(clients)))
    left = (await sparks.statement(user)).available
    return succeeded, refused, left


async def race_one_hold(sparks: Sparks, user: int, clients: int) -> tuple[int, int, int]:
    """Every client settles (with 1 Spark) or expires one hold at once: (charged, released,
    how many calls changed something)."""
    await sparks.grant(user, 10, reason="benchmark")
    before = (await sparks.statement(user)).available
    await sparks.hold(user, 10, op="hold:race", action="chat.reply", minutes=1)
    later = utcnow() + timedelta(minutes=2)

    async def client(number: int) -> int:
        if number % 2:
            return await sparks.expire_stale(later)
        return int((await sparks.settle("hold:race", 1)).status == "created")

    changed = sum(await asyncio.gather(*(client(n) for n in range(max(clients, 2)))))
    after = await sparks.statement(user)
    return before - after.available, after.held, changed


async def races(sparks: Sparks, db: Database, clients: int, budget: int) -> Races:
    same, last, hold = await make_users(db, 3, "race")
    await sparks.grant(same, 10_000, reason="benchmark")
    result = Races()
    result.double_spends = await race_same_ids(sparks, db, same, clients)
    result.same_ids = f"{clients} clients x 50 shared ids: {result.double_spends} written twice"
    won, refused, left = await race_last_sparks(sparks, db, last, clients, budget)
    result.double_spends += max(won - budget, 0) + max(-left, 0)
    result.last_sparks = f"{won} of {budget} succeeded, {refused} refused, {left} left"
    charged, held, changed = await race_one_hold(sparks, hold, clients)
    result.double_spends += max(changed - 1, 0) + (charged not in (0, 1)) + (held != 0)
    result.one_hold = f"resolved by {changed} call(s), charged {charged}, {held} still held"
    report = await reconcile.reconcile(db)
    result.reconcile_ok = report.ok and report.total == 0
    return result


# --- the run -----------------------------------------------------------------------------


async def run_database(kind: str, args: argparse.Namespace) -> Run:
    result = Run(kind)
    with tempfile.TemporaryDirectory() as folder, database_url(kind, folder) as url:
        db = Database(url)
        await upgrade(db)
        async with db.engine.begin() as conn:
            key = "INTEGER PRIMARY KEY" if db.is_sqlite else "BIGSERIAL PRIMARY KEY"
            await conn.exec_driver_sql(
                f"CREATE TABLE bench_baseline (id {key}, client INTEGER, n INTEGER)"
            )
        sparks = Sparks(db, SparksSettings())
        users = await make_users(db, max(args.levels), "client")
        for user in users:
            await sparks.grant(user, WALLET, reason="benchmark")
            await sparks.statement(user)  # today's allowance: not part of the timed spends
        for clients in args.levels:
            await baseline_level(db, clients, min(args.seconds, 0.5))  # warm the pool
            level, seen = await spend_level(sparks, users, clients, args.seconds, f"c{clients}")
            level.baseline = await baseline_level(db, clients, args.seconds)
            written = await spent_by_transfers(db, f"c{clients}")
            level.double_spends = sum(
                abs(written.get(user, 0) - count) for user, count in seen.items()
            )
            result.levels.append(level)
            print_level(kind, level)
        result.races = await races(sparks, db, max(args.levels), args.race_sparks)
        await db.dispose()
    return result


def print_level(kind: str, level: Level) -> None:
    target = TARGETS[kind]
    verdict = "PASS" if level.rate >= target and not level.double_spends else "FAIL"
    print(
        f"{kind:<11}{level.clients:>8}{level.rate:>11,.0f}{level.baseline:>11,.0f}"
        f"{level.rate / level.baseline:>8.2f}{level.p50_ms:>9.2f}{level.p99_ms:>9.2f}"
        f"{level.cpu * 100:>7.0f}%{level.cpu_us:>8,.0f}{level.double_spends:>8}"
        f"   >= {target:,} {verdict}",
        flush=True,
    )


def print_races(run: Run) -> None:
    races = run.races
    print(f"\n{run.database} races ({max(level.clients for level in run.levels)} clients):")
    print(f"  same ids:    {races.same_ids}")
    print(f"  last Sparks: {races.last_sparks}")
    print(f"  one hold:    {races.one_hold}")
    verdict = "PASS" if races.double_spends == 0 and races.reconcile_ok else "FAIL"
    print(
        f"  double spends: {races.double_spends}, reconcile "
        f"{'ok' if races.reconcile_ok else 'DRIFT'}   target 0 {verdict}"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per level and mode (5)")
    parser.add_argument("--quick", action="store_true", help="1 s per level")
    parser.add_argument(
        "--levels",
        type=lambda s: tuple(int(p) for p in s.split(",") if p.strip()),
        default=LEVELS,
        help="concurrent clients per level (1,16,64)",
    )
    parser.add_argument(
        "--databases",
        type=lambda s: tuple(p for p in ("sqlite", "postgresql") if p in s.split(",")),
        default=("sqlite", "postgresql"),
        help="sqlite,postgresql",
    )
    parser.add_argument("--race-sparks", type=int, default=500, help="the last Sparks raced")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds = 1.0
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    runner = _event_loop_runner()
    print(
        f"Afterdark ledger benchmark: Sparks.spend of 1 Spark, each client on its own user, "
        f"{args.seconds:g} s per level; {os.cpu_count()} cores shared with the database server"
    )
    print(
        f"{'database':<11}{'clients':>8}{'spends/s':>11}{'baseline':>11}{'ratio':>8}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'cpu':>8}{'us/op':>8}{'double':>8}   target"
    )
    runs = [runner(run_database(kind, args)) for kind in args.databases]
    for run in runs:
        print_races(run)
    if args.json:
        with open(args.json, "w") as out:
            json.dump([asdict(run) for run in runs], out, indent=2)


def _event_loop_runner() -> Callable[[Any], Any]:
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


if __name__ == "__main__":
    main()
