"""Plain spends applied a batch at a time by set statements (PostgreSQL).

``Sparks.spend`` hands the writer its spend as data (``Spend``) beside its closure; when a
batch holds more than one (``transaction.py``), this applies them all with three statements
instead of three or four per spend: the accounts of every user in the batch locked in one
``SELECT ... = ANY(...) ORDER BY id FOR UPDATE``, the transfers that already use the batch's
ids read in one query, what each spend does worked out here in submission order, then every
transfer inserted and every account changed by one statement (``unnest`` arrays). The same
commit as the rest of the batch.

The outcomes are exactly those of running the spends one after the other through
``Sparks.ready`` and ``ledger.debit_user`` (the per-operation path): today's allowance given at
a user's first use of the day, free Sparks spent first, then the wallet; an id already used
for the same spend is ``exists``, for anything else ``TransferIdReusedError``; a spend the
user cannot pay for ``InsufficientSparksError``, and, as when the per-operation path takes a
failed operation out of its batch, nothing it did (not even the allowance it gave) is kept.
The same transfer rows (ids ``<op>`` and ``<op>/2``, meta) and account totals, so reconcile
and the statement page see no difference.

The database stays the last word: an insert that finds an id taken meanwhile, an account
update that does not match, or the no-overdraft check refusing it, raises, and the batch runs
again operation by operation. Anything this does not cover (a daily id already taken)
raises ``Fallback`` for the same.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from afterdark.config import SparksSettings
from afterdark.credits import ledger
from afterdark.credits.ledger import InsufficientSparksError, Outcome, leg_id
from afterdark.credits.models import USER_BUCKETS
from afterdark.kit.clock import utcnow

SET_BASED_SPENDS = True
"""The switch: False sends every spend through the per-operation path again."""


@dataclass(frozen=True, slots=True)
class Spend:
    """One ``Sparks.spend``, as data."""

    user_id: int
    amount: int
    op: str
    action: str
    ref: str | None


class Fallback(Exception):
    """The batch needs something these statements do not do: run it operation by operation."""


_LOCK = text(
    "SELECT id, user_id, bucket, daily_on, "
    "credits_posted - debits_posted - debits_pending AS available "
    "FROM spark_accounts WHERE user_id = ANY(CAST(:users AS integer[])) "
    "ORDER BY id FOR UPDATE"
)
# Every transfer of an operation has the id ``<op>`` or ``<op>/2`` (``ledger.leg_id``: no
# operation has more than two legs), so the primary key alone finds them: one index probe
# per id (the LATERAL ... LIMIT keeps the planner from a scan of the whole table, which it
# picks for ``id = ANY(...)`` while the table's statistics are those of a smaller one).
_FOUND = text(
    "SELECT t.id, t.op, t.phase, t.kind, t.user_id, t.amount "
    "FROM unnest(CAST(:ids AS varchar[])) AS k(id) CROSS JOIN LATERAL ("
    "SELECT id, op, phase, kind, user_id, amount FROM spark_transfers AS s "
    "WHERE s.id = k.id LIMIT 1) AS t ORDER BY t.id"
)
_COLUMNS = (
    ("id", "varchar"),
    ("op", "varchar"),
    ("debit_account_id", "integer"),
    ("credit_account_id", "integer"),
    ("amount", "bigint"),
    ("phase", "varchar"),
    ("user_id", "integer"),
    ("kind", "varchar"),
    ("action", "varchar"),
    ("ref", "varchar"),
    ("note", "varchar"),
    ("created_at", "timestamptz"),
)
# The transfers inserted and the accounts changed in one statement (one round trip): how
# many of each it wrote. The no-overdraft check is evaluated as each account changes.
_WRITE = text(
    "WITH moved AS ("
    f"INSERT INTO spark_transfers ({', '.join(name for name, _ in _COLUMNS)}) "
    "SELECT * FROM unnest("
    + ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _COLUMNS)
    + ") ON CONFLICT DO NOTHING RETURNING 1), "
    "changed AS (UPDATE spark_accounts AS a SET "
    "credits_posted = a.credits_posted + v.credit, "
    "debits_posted = a.debits_posted + v.debit, "
    "daily_on = COALESCE(v.daily_on, a.daily_on) "
    "FROM unnest(CAST(:account AS integer[]), CAST(:credit AS bigint[]), "
    "CAST(:debit AS bigint[]), CAST(:daily_on AS date[])) AS v(id, credit, debit, daily_on) "
    "WHERE a.id = v.id RETURNING 1) "
    "SELECT (SELECT count(*) FROM moved) AS moved, (SELECT count(*) FROM changed) AS changed"
)


@dataclass(frozen=True, slots=True)
class _Row:
    """A transfer as ``ledger._same`` compares it."""

    id: str
    op: str
    phase: str
    kind: str
    user_id: int | None
    amount: int


@dataclass(slots=True)
class _User:
    """A user's two accounts as the batch changes them."""

    free_id: int
    wallet_id: int
    free: int
    wallet: int
    daily_on: date | None
    credited: int = 0  # to the free account (today's allowance)
    from_free: int = 0
    from_wallet: int = 0
    marked: bool = False  # today's allowance recorded on the free account

    def copy(self) -> _User:
        return _User(
            self.free_id,
            self.wallet_id,
            self.free,
            self.wallet,
            self.daily_on,
            self.credited,
            self.from_free,
            self.from_wallet,
            self.marked,
        )


@dataclass(slots=True)
class _Batch:
    """What the batch will write, as it is worked out."""

    taken: set[str]  # transfer ids in the database or written by the batch
    by_op: dict[str, list[_Row]]  # transfers by operation, likewise
    rows: list[dict[str, Any]] = field(default_factory=list)


async def _locked_users(conn: AsyncConnection, users: list[int]) -> dict[int, _User]:
    rows = (await conn.execute(_LOCK, {"users": users})).all()
    found: dict[int, dict[str, Any]] = {}
    for row in rows:
        found.setdefault(row.user_id, {})[row.bucket] = row
    missing = [user for user in users if len(found.get(user, {})) < len(USER_BUCKETS)]
    if missing:  # a user's first operation ever: their accounts, then everyone's again
        for user in missing:
            await ledger._create_accounts(conn, user)
        return await _locked_users(conn, users)
    return {
        user: _User(
            free_id=buckets["free"].id,
            wallet_id=buckets["wallet"].id,
            free=int(buckets["free"].available),
            wallet=int(buckets["wallet"].available),
            daily_on=buckets["free"].daily_on,
        )
        for user, buckets in found.items()
    }


async def apply_spends(
    conn: AsyncConnection,
    spends: Sequence[Spend],
    settings: SparksSettings,
    today_of: Callable[[AsyncConnection, list[int]], Awaitable[dict[int, date]]],
) -> list[Outcome | Exception]:
    """Apply ``spends`` in order in the caller's transaction (PostgreSQL): each one's outcome
    or error, as the per-operation path would have given it."""
    users = sorted({spend.user_id for spend in spends})
    state = await _locked_users(conn, users)
    today = await today_of(conn, users)
    spending = await ledger.system_account(conn, "spending")
    grants = await ledger.system_account(conn, "grants")
    daily = {
        user: f"daily:{have.free_id}:{today[user].isoformat()}"
        for user, have in state.items()
        if have.daily_on is None or have.daily_on < today[user]
    }
    ops = [spend.op for spend in spends]
    ids = list(dict.fromkeys([*ops, *(leg_id(op, 1) for op in ops), *daily.values()]))
    found = [
        _Row(row.id, row.op, row.phase, row.kind, row.user_id, int(row.amount))
        for row in (await conn.execute(_FOUND, {"ids": ids})).all()
    ]
    batch = _Batch(taken={row.id for row in found}, by_op={})
    for row in found:
        batch.by_op.setdefault(row.op, []).append(row)
    legs = {*ops, *(leg_id(op, 1) for op in ops)}
    if batch.taken & set(daily.values()) or legs & set(daily.values()):
        raise Fallback("a daily allowance id is taken")

    outcomes: list[Outcome | Exception] = []
    for spend in spends:
        have = state[spend.user_id]
        before = have.copy()
        mark = len(batch.rows)
        try:
            _ready(batch, have, spend.user_id, today[spend.user_id], daily, grants, settings)
            outcomes.append(_debit(batch, have, spend, spending))
        except (InsufficientSparksError, ledger.TransferIdReusedError) as exc:
            # As if it had never been sent (the per-operation path takes it out and runs
            # the rest again): not even the allowance it gave is kept.
            state[spend.user_id] = before
            for written in batch.rows[mark:]:
                batch.taken.discard(written["id"])
                batch.by_op[written["op"]].pop()
                if not batch.by_op[written["op"]]:
                    del batch.by_op[written["op"]]
            del batch.rows[mark:]
            outcomes.append(exc)

    await _write(conn, batch.rows, list(state.values()))
    return outcomes


def _ready(
    batch: _Batch,
    have: _User,
    user_id: int,
    today: date,
    daily: dict[int, str],
    grants: int,
    settings: SparksSettings,
) -> None:
    """``Sparks.ready``: today's allowance, at the user's first use of the day."""
    if have.daily_on is not None and have.daily_on >= today:
        return
    have.daily_on, have.marked = today, True
    amount = min(settings.daily_allowance, max(settings.daily_cap - have.free, 0))
    if amount <= 0:
        return
    meta = ledger.Meta(kind="daily", user_id=user_id, note=f"Free Sparks for {today.isoformat()}")
    _add(batch, daily[user_id], 0, grants, have.free_id, amount, meta)
    have.free += amount
    have.credited += amount


def _debit(batch: _Batch, have: _User, spend: Spend, sink: int) -> Outcome:
    """``ledger.debit_user``, posted at once, on the batch's view of the user."""
    meta = ledger.Meta(kind="spend", user_id=spend.user_id, action=spend.action, ref=spend.ref)
    available = have.free + have.wallet
    if spend.amount > available:
        if spend.op in batch.by_op:
            return _earlier(batch, spend)
        raise InsufficientSparksError(spend.amount, available)
    if spend.op in batch.taken:
        if spend.op not in batch.by_op:
            raise ledger._reused(spend.op)  # another operation's second leg
        return _earlier(batch, spend)
    from_free = min(have.free, spend.amount)
    parts = [(have.free_id, from_free), (have.wallet_id, spend.amount - from_free)]
    legs = [(account, part) for account, part in parts if part > 0]
    if len(legs) > 1 and leg_id(spend.op, 1) in batch.taken:
        raise ledger._reused(leg_id(spend.op, 1))
    for index, (account, part) in enumerate(legs):
        _add(batch, spend.op, index, account, sink, part, meta)
    have.free -= from_free
    have.wallet -= spend.amount - from_free
    have.from_free += from_free
    have.from_wallet += spend.amount - from_free
    return Outcome(spend.op, "created", spend.amount)


def _earlier(batch: _Batch, spend: Spend) -> Outcome:
    """``ledger._existing``: the same spend's earlier outcome, or the id refused."""
    meta = ledger.Meta(kind="spend", user_id=spend.user_id)
    if not ledger._same(batch.by_op[spend.op], "posted", meta, spend.amount):  # type: ignore[arg-type]
        raise ledger._reused(spend.op)
    return Outcome(spend.op, "exists", spend.amount)


def _add(
    batch: _Batch, op: str, index: int, debit: int, credit: int, amount: int, meta: ledger.Meta
) -> None:
    transfer_id = leg_id(op, index)
    batch.taken.add(transfer_id)
    batch.by_op.setdefault(op, []).append(
        _Row(transfer_id, op, "posted", meta.kind, meta.user_id, amount)
    )
    batch.rows.append(
        {
            "id": transfer_id,
            "op": op,
            "debit_account_id": debit,
            "credit_account_id": credit,
            "amount": amount,
            "phase": "posted",
            "user_id": meta.user_id,
            "kind": meta.kind,
            "action": meta.action,
            "ref": meta.ref,
            "note": meta.note,
            "created_at": utcnow(),
        }
    )


async def _write(conn: AsyncConnection, rows: list[dict[str, Any]], users: list[_User]) -> None:
    """Insert the transfers and change the accounts, in one statement; raises (for the
    batch to run operation by operation) when the database does not agree."""
    changes: list[tuple[int, int, int, date | None]] = []
    for have in users:
        if have.credited or have.from_free or have.marked:
            daily_on = have.daily_on if have.marked else None
            changes.append((have.free_id, have.credited, have.from_free, daily_on))
        if have.from_wallet:
            changes.append((have.wallet_id, 0, have.from_wallet, None))
    if not rows and not changes:
        return
    values: dict[str, list[Any]] = {name: [row[name] for row in rows] for name, _ in _COLUMNS}
    values["account"] = [change[0] for change in changes]
    values["credit"] = [change[1] for change in changes]
    values["debit"] = [change[2] for change in changes]
    values["daily_on"] = [change[3] for change in changes]
    written = (await conn.execute(_WRITE, values)).one()
    if (written.moved, written.changed) != (len(rows), len(changes)):
        raise Fallback("a transfer id was taken, or an account changed, meanwhile")
