"""The ledger's primitives: write transfers and move account totals, in one transaction.

Everything here runs on a connection whose transaction the caller holds (see
``transaction.py``): under ``BEGIN IMMEDIATE`` on SQLite, with the user's account rows
locked (``FOR UPDATE``) on PostgreSQL, so the balances read at the start stay true until
the commit. The database's own check (no overdraft) is the last word: an update that would
break it raises, and the whole operation rolls back.

An operation is idempotent by its id: repeating it finds the transfers it wrote and returns
the same outcome; the same id with different fields, or an id that is already one of
another operation's transfers (``<op>/2``), is refused (``TransferIdReusedError``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import cast

from sqlalchemy import Row, Table, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from afterdark.credits.models import USER_BUCKETS, SparkAccount, SparkTransfer
from afterdark.errors import ConflictError, PaymentRequiredError
from afterdark.kit.clock import utcnow

accounts = cast(Table, SparkAccount.__table__)
transfers = cast(Table, SparkTransfer.__table__)

# The statements of the hot path, built once: each call only binds its values, and
# SQLAlchemy finds the compiled form in its cache without walking a new expression.
_AVAILABLE = accounts.c.credits_posted - accounts.c.debits_posted - accounts.c.debits_pending
_ACCOUNT_ROWS = (
    select(
        accounts.c.id,
        accounts.c.bucket,
        accounts.c.debits_pending,
        accounts.c.daily_on,
        _AVAILABLE.label("available"),
    )
    .where(accounts.c.user_id == bindparam("user_id"))
    .order_by(accounts.c.id)
)
_LOCKED_ACCOUNT_ROWS = _ACCOUNT_ROWS.with_for_update()
_SYSTEM_ACCOUNT = select(accounts.c.id).where(accounts.c.name == bindparam("name"))
_INSERT_NEW: dict[str, Insert] = {
    "postgresql": postgresql.insert(transfers).on_conflict_do_nothing(),
    "sqlite": sqlite.insert(transfers).on_conflict_do_nothing(),
}
_FIND_OP = select(transfers).where(transfers.c.op == bindparam("op")).order_by(transfers.c.id)
_DEBIT = {
    hold: update(accounts)
    .where(accounts.c.id == bindparam("account"), _AVAILABLE >= bindparam("amount"))
    .values({column: column + bindparam("amount")})
    for hold, column in ((False, accounts.c.debits_posted), (True, accounts.c.debits_pending))
}
_CREDIT = (
    update(accounts)
    .where(accounts.c.id == bindparam("account"))
    .values(credits_posted=accounts.c.credits_posted + bindparam("amount"))
)
_resolution = transfers.alias("resolution")
_OPEN_HOLDS = (
    select(transfers)
    .outerjoin(_resolution, _resolution.c.pending_id == transfers.c.id)
    .where(
        transfers.c.op == bindparam("hold_op"),
        transfers.c.phase == "pending",
        _resolution.c.id.is_(None),
    )
    .order_by(transfers.c.id)
)
_RESOLVE = (
    update(accounts)
    .where(accounts.c.id == bindparam("account"))
    .values(
        debits_pending=accounts.c.debits_pending - bindparam("held"),
        debits_posted=accounts.c.debits_posted + bindparam("taken"),
    )
)
_TAKEN_BY = select(transfers.c.pending_id).where(transfers.c.id == bindparam("transfer_id"))
_MARK_DAILY = (
    update(accounts)
    .where(
        accounts.c.id == bindparam("account"),
        or_(accounts.c.daily_on.is_(None), accounts.c.daily_on < bindparam("today")),
    )
    .values(daily_on=bindparam("today"))
)
_SYSTEM_IDS = "afterdark.spark_system_accounts"
"""``conn.info`` entry: system account ids by name, cached for the connection's life."""


class InsufficientSparksError(PaymentRequiredError):
    """The user's free and wallet Sparks together are less than the amount."""

    def __init__(self, needed: int, available: int) -> None:
        super().__init__(
            f"Not enough Sparks: this needs {needed} and you have {available}. Free Sparks "
            "are topped up each day; the price list is at /pricing."
        )
        self.needed = needed
        self.available = available


class TransferIdReusedError(ConflictError):
    """An operation id that was already used for a different operation."""


@dataclass(frozen=True, slots=True)
class Balances:
    """A user's two accounts as read in the current transaction."""

    free_id: int
    wallet_id: int
    free: int  # available: posted credits less posted and held debits
    wallet: int
    held: int  # Sparks held by unfinished two-phase spends
    daily_on: date | None

    @property
    def available(self) -> int:
        return self.free + self.wallet


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an operation did: ``created`` now, or ``exists`` from an earlier call."""

    op: str
    status: str
    amount: int  # the Sparks it moved (for a post: charged; for a void: released)


@dataclass(frozen=True, slots=True)
class Meta:
    """What a transfer is for: its kind, price-list line, reference and note."""

    kind: str
    user_id: int | None
    action: str | None = None
    ref: str | None = None
    note: str | None = None


async def _insert_new(conn: AsyncConnection, row: Mapping[str, object]) -> bool:
    """Insert one transfer unless its id (or the hold it resolves) is taken; whether it was."""
    result = await conn.execute(_INSERT_NEW[conn.dialect.name], row)
    return result.rowcount == 1


def leg_id(op: str, leg: int) -> str:
    """The id of an operation's ``leg``-th transfer (the first is the operation id)."""
    return op if leg == 0 else f"{op}/{leg + 1}"


async def system_account(conn: AsyncConnection, name: str) -> int:
    """The id of a system account (made by the migration, never changed)."""
    known: dict[str, int] = conn.info.setdefault(_SYSTEM_IDS, {})
    if name not in known:
        found = await conn.scalar(_SYSTEM_ACCOUNT, {"name": name})
        if found is None:
            raise RuntimeError(f"system account {name!r} is missing: run the migrations")
        known[name] = int(found)
    return known[name]


async def balances(conn: AsyncConnection, user_id: int, *, lock: bool = True) -> Balances:
    """The user's accounts, made on first use; locked for this transaction on PostgreSQL."""
    rows = await _account_rows(conn, user_id, lock)
    if len(rows) < len(USER_BUCKETS):
        await _create_accounts(conn, user_id)
        rows = await _account_rows(conn, user_id, lock)
    by_bucket = {row.bucket: row for row in rows}
    free, wallet = by_bucket["free"], by_bucket["wallet"]
    return Balances(
        free_id=free.id,
        wallet_id=wallet.id,
        free=free.available,
        wallet=wallet.available,
        held=free.debits_pending + wallet.debits_pending,
        daily_on=free.daily_on,
    )


async def _account_rows(conn: AsyncConnection, user_id: int, lock: bool) -> Sequence[Row]:  # type: ignore[type-arg]
    locked = lock and conn.dialect.name == "postgresql"
    query = _LOCKED_ACCOUNT_ROWS if locked else _ACCOUNT_ROWS
    return (await conn.execute(query, {"user_id": user_id})).all()


async def _create_accounts(conn: AsyncConnection, user_id: int) -> None:
    """The user's two accounts. They have no name: a deleted user's accounts stay (without
    a user), and SQLite may give that user's id to the next one."""
    statement = (
        postgresql.insert(accounts)
        if conn.dialect.name == "postgresql"
        else sqlite.insert(accounts)
    )
    await conn.execute(
        statement.on_conflict_do_nothing().values(
            [
                {
                    "user_id": user_id,
                    "bucket": bucket,
                    "no_overdraft": True,
                    "debits_posted": 0,
                    "credits_posted": 0,
                    "debits_pending": 0,
                }
                for bucket in USER_BUCKETS
            ]
        )
    )


async def find_op(conn: AsyncConnection, op: str) -> list[Row]:  # type: ignore[type-arg]
    """The transfers an operation wrote, first leg first."""
    return list((await conn.execute(_FIND_OP, {"op": op})).all())


def _same(existing: Sequence[Row], phase: str, meta: Meta, amount: int) -> bool:  # type: ignore[type-arg]
    return (
        bool(existing)
        and all(r.phase == phase and r.kind == meta.kind for r in existing)
        and existing[0].user_id == meta.user_id
        and sum(r.amount for r in existing) == amount
    )


def _reused(transfer_id: str) -> TransferIdReusedError:
    return TransferIdReusedError(
        f"Transfer id {transfer_id!r} was already used for a different operation."
    )


async def _existing(
    conn: AsyncConnection, op: str, phase: str, meta: Meta, amount: int
) -> Outcome | None:
    """The earlier outcome of ``op`` if it ran; refuses an id used for something else."""
    found = await find_op(conn, op)
    if not found:
        return None
    if not _same(found, phase, meta, amount):
        raise _reused(op)
    return Outcome(op, "exists", amount)


async def _repeated(conn: AsyncConnection, op: str, phase: str, meta: Meta, amount: int) -> Outcome:
    """The earlier outcome of ``op``, whose first transfer id is taken: by ``op`` itself, or
    as another operation's second leg (refused)."""
    earlier = await _existing(conn, op, phase, meta, amount)
    if earlier is None:
        raise _reused(op)
    return earlier


async def _write(
    conn: AsyncConnection,
    op: str,
    legs: Sequence[tuple[int, int, int]],
    phase: str,
    meta: Meta,
    *,
    expires_at: datetime | None = None,
) -> bool:
    """Insert the transfers (debit, credit, amount) of ``op``; False when it already ran."""
    rows = [
        {
            "id": leg_id(op, index),
            "op": op,
            "debit_account_id": debit,
            "credit_account_id": credit,
            "amount": amount,
            "phase": phase,
            "expires_at": expires_at,
            "user_id": meta.user_id,
            "kind": meta.kind,
            "action": meta.action,
            "ref": meta.ref,
            "note": meta.note,
            "created_at": utcnow(),
        }
        for index, (debit, credit, amount) in enumerate(legs)
    ]
    if not await _insert_new(conn, rows[0]):
        return False
    for row in rows[1:]:
        if not await _insert_new(conn, row):
            raise _reused(str(row["id"]))
    return True


async def _debit(conn: AsyncConnection, account_id: int, amount: int, *, hold: bool) -> None:
    """Take ``amount`` from a user account (posted, or held for a two-phase spend)."""
    result = await conn.execute(_DEBIT[hold], {"account": account_id, "amount": amount})
    if result.rowcount != 1:
        raise InsufficientSparksError(amount, 0)


async def _credit(conn: AsyncConnection, account_id: int, amount: int) -> None:
    await conn.execute(_CREDIT, {"account": account_id, "amount": amount})


def _split(have: Balances, amount: int) -> list[tuple[int, int]]:
    """Which bucket pays how much: free Sparks first, then the wallet."""
    if amount > have.available:
        raise InsufficientSparksError(amount, have.available)
    from_free = min(have.free, amount)
    parts = [(have.free_id, from_free), (have.wallet_id, amount - from_free)]
    return [(account, part) for account, part in parts if part > 0]


async def credit_user(
    conn: AsyncConnection,
    op: str,
    have: Balances,
    source: int,
    amount: int,
    meta: Meta,
    *,
    bucket: str = "wallet",
) -> Outcome:
    """Move ``amount`` from a system account into one of the user's buckets."""
    target = have.free_id if bucket == "free" else have.wallet_id
    if not await _write(conn, op, [(source, target, amount)], "posted", meta):
        return await _repeated(conn, op, "posted", meta, amount)
    await _credit(conn, target, amount)
    return Outcome(op, "created", amount)


async def debit_user(
    conn: AsyncConnection,
    op: str,
    have: Balances,
    sink: int,
    amount: int,
    meta: Meta,
    *,
    expires_at: datetime | None = None,
) -> Outcome:
    """Take ``amount`` from the user (free first) into a system account: posted at once,
    or, with ``expires_at``, held until a post or void resolves it."""
    phase = "posted" if expires_at is None else "pending"
    try:
        parts = _split(have, amount)
    except InsufficientSparksError:
        if earlier := await _existing(conn, op, phase, meta, amount):
            return earlier
        raise
    legs = [(account, sink, part) for account, part in parts]
    if not await _write(conn, op, legs, phase, meta, expires_at=expires_at):
        return await _repeated(conn, op, phase, meta, amount)
    for account, part in parts:
        await _debit(conn, account, part, hold=expires_at is not None)
    return Outcome(op, "created", amount)


async def open_holds(conn: AsyncConnection, hold_op: str) -> list[Row]:  # type: ignore[type-arg]
    """The legs of a hold that no post or void has resolved yet, free bucket first."""
    return list((await conn.execute(_OPEN_HOLDS, {"hold_op": hold_op})).all())


async def resolve(conn: AsyncConnection, op: str, hold_op: str, charge: int, meta: Meta) -> Outcome:
    """Post ``charge`` (at most what is held; 0 voids) of the hold ``hold_op`` and release
    the rest. ``exists`` when the hold was already resolved (by this op, or by expiry)."""
    holds = await open_holds(conn, hold_op)
    if not holds:
        return Outcome(op, "exists", 0)
    left = max(charge, 0)
    charged = 0
    created = False
    for index, hold in enumerate(holds):
        take = min(hold.amount, left)
        left -= take
        row = {
            "id": leg_id(op, index),
            "op": op,
            "debit_account_id": hold.debit_account_id,
            "credit_account_id": hold.credit_account_id,
            # A void records what it released; a post what it charged.
            "amount": take if take > 0 else hold.amount,
            "phase": "post" if take > 0 else "void",
            "pending_id": hold.id,
            "user_id": hold.user_id,
            "kind": meta.kind if take > 0 or meta.kind == "expire" else "void",
            "action": hold.action,
            "ref": hold.ref,
            "note": meta.note,
            "created_at": utcnow(),
        }
        if not await _insert_new(conn, row):
            await _resolved_meanwhile(conn, str(row["id"]), hold.id)
            continue
        await conn.execute(
            _RESOLVE, {"account": hold.debit_account_id, "held": hold.amount, "taken": take}
        )
        charged += take
        created = True
    return Outcome(op, "created" if created else "exists", charged)


async def _resolved_meanwhile(conn: AsyncConnection, transfer_id: str, hold_id: str) -> None:
    """A resolution's insert did nothing: fine when another transaction resolved the hold
    since it was read; an id that names some other transfer is refused."""
    row = (await conn.execute(_TAKEN_BY, {"transfer_id": transfer_id})).first()
    if row is not None and row.pending_id != hold_id:
        raise _reused(transfer_id)


async def stale_holds(conn: AsyncConnection, now: datetime, limit: int = 500) -> list[str]:
    """Ids of holds past their expiry that nothing has resolved."""
    resolution = transfers.alias("resolution")
    rows = await conn.scalars(
        select(transfers.c.op)
        .outerjoin(resolution, resolution.c.pending_id == transfers.c.id)
        .where(
            transfers.c.phase == "pending",
            transfers.c.expires_at < now,
            resolution.c.id.is_(None),
        )
        .distinct()
        .limit(limit)
    )
    return list(rows)


async def mark_daily(conn: AsyncConnection, free_id: int, today: date) -> bool:
    """Record today's allowance on the free account; False when it was already given."""
    result = await conn.execute(_MARK_DAILY, {"account": free_id, "today": today})
    return result.rowcount == 1
