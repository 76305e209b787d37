"""Reconcile the ledger: every user account's stored totals against the sum of its transfers.

Also checks what the schema cannot: a post never charges more than its hold, and a post or
void only ever resolves a hold. Reads one consistent snapshot (a single read transaction).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterdark.credits.ledger import accounts, transfers
from afterdark.store.engine import Database

FIELDS = ("credits_posted", "debits_posted", "debits_pending")


@dataclass(frozen=True, slots=True)
class Drift:
    name: str  # the account
    field: str
    stored: int
    summed: int


@dataclass(slots=True)
class Report:
    accounts: int = 0
    transfers: int = 0
    total: int = 0  # the sum of every account's balance: 0 in double entry
    system: dict[str, int] = field(default_factory=dict)  # system balances, summed
    drift: list[Drift] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.drift and not self.problems


def account_label(account_id: int, user_id: int | None, bucket: str) -> str:
    """``user:<id>:<bucket>``, or ``account:<id>:<bucket>`` once its user is deleted."""
    return f"user:{user_id}:{bucket}" if user_id is not None else f"account:{account_id}:{bucket}"


async def _sums(conn: AsyncConnection) -> dict[int, dict[str, int]]:
    """Per account, its totals as the transfers give them."""
    posted = transfers.c.phase.in_(("posted", "post"))
    sums: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIELDS, 0))
    for side, name in (
        (transfers.c.credit_account_id, "credits_posted"),
        (transfers.c.debit_account_id, "debits_posted"),
    ):
        rows = await conn.execute(
            select(side, func.sum(transfers.c.amount)).where(posted).group_by(side)
        )
        for account_id, amount in rows:
            sums[account_id][name] = int(amount)
    resolution = transfers.alias("resolution")
    open_holds = await conn.execute(
        select(transfers.c.debit_account_id, func.sum(transfers.c.amount))
        .outerjoin(resolution, resolution.c.pending_id == transfers.c.id)
        .where(transfers.c.phase == "pending", resolution.c.id.is_(None))
        .group_by(transfers.c.debit_account_id)
    )
    for account_id, amount in open_holds:
        sums[account_id]["debits_pending"] = int(amount)
    return sums


async def _resolution_problems(conn: AsyncConnection) -> list[str]:
    hold = transfers.alias("hold")
    rows = await conn.execute(
        select(transfers.c.id, transfers.c.phase, transfers.c.amount, hold.c.phase, hold.c.amount)
        .join(hold, hold.c.id == transfers.c.pending_id)
        .where(
            (hold.c.phase != "pending")
            | (transfers.c.phase.not_in(("post", "void")))
            | (case((transfers.c.phase == "post", transfers.c.amount), else_=0) > hold.c.amount)
        )
    )
    return [
        f"transfer {tid} ({phase}, {amount}) resolves {hold_phase} {hold_amount}"
        for tid, phase, amount, hold_phase, hold_amount in rows
    ]


async def reconcile(database: Database) -> Report:
    """Compare, in one snapshot; ``report.ok`` when nothing drifted."""
    async with database.engine.connect() as conn:
        if database.is_sqlite:
            await conn.exec_driver_sql("BEGIN")  # one snapshot for every query below
        else:
            await conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        report = Report()
        sums = await _sums(conn)
        rows = await conn.execute(select(accounts).order_by(accounts.c.id))
        for row in rows:
            report.accounts += 1
            summed = sums.get(row.id, dict.fromkeys(FIELDS, 0))
            balance = summed["credits_posted"] - summed["debits_posted"]
            report.total += balance
            if row.bucket == "system":
                report.system[row.name] = balance
                continue
            label = account_label(row.id, row.user_id, row.bucket)
            for name in FIELDS:
                if getattr(row, name) != summed[name]:
                    report.drift.append(Drift(label, name, getattr(row, name), summed[name]))
            if row.no_overdraft and row.debits_posted + row.debits_pending > row.credits_posted:
                report.problems.append(f"{label} is overdrawn")
        report.transfers = int(await conn.scalar(select(func.count()).select_from(transfers)) or 0)
        report.problems += await _resolution_problems(conn)
        await conn.rollback()
    return report
