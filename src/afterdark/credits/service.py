"""Sparks: the daily allowance, grants, spends, two-phase reply charges and statements.

Routes, the CLI and the chat engine call this; it runs each operation in one ledger
transaction (``transaction.py``) over the primitives in ``ledger.py``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from afterdark.config import SparksSettings
from afterdark.credits import ledger, pricing, together
from afterdark.credits.ledger import Balances, Meta, Outcome
from afterdark.credits.transaction import Together, in_transaction
from afterdark.errors import InvalidInputError
from afterdark.kit.clock import utcnow
from afterdark.safety.models import WellbeingSettings
from afterdark.store.engine import Database

MAX_AMOUNT = 10**12
"""The most Sparks one operation may move (keeps sums far inside 64 bits)."""


@dataclass(frozen=True, slots=True)
class Statement:
    """A user's Sparks now."""

    free: int
    wallet: int
    held: int
    daily_allowance: int
    daily_cap: int
    today: date

    @property
    def available(self) -> int:
        return self.free + self.wallet


def check_amount(amount: int) -> int:
    if not 1 <= amount <= MAX_AMOUNT:
        raise InvalidInputError(f"An amount of Sparks must be between 1 and {MAX_AMOUNT}.")
    return amount


def new_op(prefix: str) -> str:
    return f"{prefix}:{uuid.uuid4().hex}"


ZONE_TTL = 60.0
"""Seconds a user's time zone is remembered (a change reaches the allowance within this)."""
_ZONE_OF = select(WellbeingSettings.timezone).where(
    WellbeingSettings.user_id == bindparam("user_id")
)
_ZONES_OF = select(WellbeingSettings.user_id, WellbeingSettings.timezone).where(
    WellbeingSettings.user_id.in_(bindparam("users", expanding=True))
)


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


async def time_zone(conn: AsyncConnection, user_id: int) -> ZoneInfo:
    """The time zone the user's browser saved (UTC until it has, or if it is unknown)."""
    return _zone(await conn.scalar(_ZONE_OF, {"user_id": user_id}))


class Sparks:
    """The Sparks of an instance: its settings and database."""

    def __init__(
        self,
        database: Database,
        settings: SparksSettings,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock
        # user id -> (zone, when read): one query less per operation.
        self._zones: dict[int, tuple[ZoneInfo, float]] = {}

    async def today(self, conn: AsyncConnection, user_id: int) -> date:
        """The user's date now, with their time zone remembered for ``ZONE_TTL`` seconds."""
        known = self._zones.get(user_id)
        if known is None or time.monotonic() - known[1] > ZONE_TTL:
            if len(self._zones) > 100_000:
                self._zones.clear()
            known = (await time_zone(conn, user_id), time.monotonic())
            self._zones[user_id] = known
        return self.clock().astimezone(known[0]).date()

    async def todays(self, conn: AsyncConnection, users: list[int]) -> dict[int, date]:
        """``today`` for several users, with one query for those not remembered."""
        now = time.monotonic()
        stale = [
            user
            for user in users
            if (known := self._zones.get(user)) is None or now - known[1] > ZONE_TTL
        ]
        if stale:
            if len(self._zones) > 100_000:
                self._zones.clear()
            rows = await conn.execute(_ZONES_OF, {"users": stale})
            names: dict[int, str] = {user: name for user, name in rows}
            for user in stale:
                self._zones[user] = (_zone(names.get(user)), now)
        moment = self.clock()
        return {user: moment.astimezone(self._zones[user][0]).date() for user in users}

    async def _spends_together(
        self, conn: AsyncConnection, spends: list[together.Spend]
    ) -> list[Outcome | Exception]:
        """Several ``spend`` calls of one batch at once (``together.py``)."""
        return await together.apply_spends(conn, spends, self.settings, self.todays)

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    # -- inside a caller's transaction ------------------------------------------------------

    async def ready(self, conn: AsyncConnection, user_id: int) -> Balances:
        """The user's balances with today's allowance given (once a day, at first use)."""
        have = await ledger.balances(conn, user_id)
        today = await self.today(conn, user_id)
        if have.daily_on is not None and have.daily_on >= today:
            return have
        if not await ledger.mark_daily(conn, have.free_id, today):
            return have
        amount = min(self.settings.daily_allowance, max(self.settings.daily_cap - have.free, 0))
        if amount <= 0:
            return have
        grants = await ledger.system_account(conn, "grants")
        meta = Meta(kind="daily", user_id=user_id, note=f"Free Sparks for {today.isoformat()}")
        await ledger.credit_user(
            conn,
            f"daily:{have.free_id}:{today.isoformat()}",
            have,
            grants,
            amount,
            meta,
            bucket="free",
        )
        return await ledger.balances(conn, user_id)

    async def check_reply(self, user_id: int, max_tokens: int) -> None:
        """Refuse (402) a reply the user cannot pay for, before anything is sent to the model."""
        await self.check(user_id, pricing.reply_estimate(self.settings, max_tokens))

    async def check(self, user_id: int, amount: int) -> None:
        """Refuse (402) what the user cannot pay ``amount`` for, before any work is done.

        A read without locks: the hold or spend that follows is the real check; this one
        only spares a backend work that would be refused anyway.
        """
        available = ledger.accounts.c.credits_posted - ledger.accounts.c.debits_posted
        available = available - ledger.accounts.c.debits_pending
        async with self.database.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(ledger.accounts.c.bucket, available, ledger.accounts.c.daily_on).where(
                        ledger.accounts.c.user_id == user_id
                    )
                )
            ).all()
            today = await self.today(conn, user_id)
        have = {bucket: int(value) for bucket, value, _ in rows}
        free = have.get("free", 0)
        given = next((day for bucket, _, day in rows if bucket == "free"), None)
        if given is None or given < today:  # today's allowance comes with the hold
            free += min(self.settings.daily_allowance, max(self.settings.daily_cap - free, 0))
        if free + have.get("wallet", 0) < amount:
            raise ledger.InsufficientSparksError(amount, free + have.get("wallet", 0))

    async def hold_reply(
        self, conn: AsyncConnection, user_id: int, generation_id: int, max_tokens: int
    ) -> str:
        """Hold the most a reply may cost, in the transaction that starts it; the hold's id.

        The id is unique, not the generation's id alone: SQLite may give a deleted row's id
        to the next generation.
        """
        return await self.hold_in(
            conn,
            user_id,
            pricing.reply_estimate(self.settings, max_tokens),
            op=f"reply:{generation_id}:{uuid.uuid4().hex[:12]}",
            action=pricing.REPLY,
            ref=f"generation:{generation_id}",
        )

    async def hold_in(
        self, conn: AsyncConnection, user_id: int, amount: int, *, op: str, action: str, ref: str
    ) -> str:
        """Hold ``amount`` in the caller's transaction (the one that records what it pays
        for, so the two commit or roll back together); the hold's id, for ``settle``."""
        check_amount(amount)
        have = await self.ready(conn, user_id)
        spending = await ledger.system_account(conn, "spending")
        meta = Meta(kind="spend", user_id=user_id, action=action, ref=ref)
        expires = self.clock() + timedelta(minutes=self.settings.reservation_minutes)
        await ledger.debit_user(conn, op, have, spending, amount, meta, expires_at=expires)
        return op

    # -- one transaction each ------------------------------------------------------------

    async def statement(self, user_id: int, *, use: bool = True) -> Statement:
        """The user's Sparks; ``use`` (the user's own look) first gives today's allowance,
        an admin's look (``use=False``) changes nothing."""

        async def work(conn: AsyncConnection) -> Statement:
            have = await (self.ready(conn, user_id) if use else ledger.balances(conn, user_id))
            return Statement(
                free=have.free,
                wallet=have.wallet,
                held=have.held,
                daily_allowance=self.settings.daily_allowance,
                daily_cap=self.settings.daily_cap,
                today=await self.today(conn, user_id),
            )

        return await in_transaction(self.database, work)

    async def history(self, user_id: int, *, limit: int = 50, offset: int = 0) -> list[Line]:
        """The user's statement, newest first (see ``history``)."""
        async with self.database.engine.connect() as conn:
            return await history(conn, user_id, limit=limit, offset=offset)

    async def grant(
        self, user_id: int, amount: int, *, reason: str, op: str | None = None, kind: str = "grant"
    ) -> Outcome:
        """Give Sparks to the user's wallet (an admin's grant, a bonus)."""
        check_amount(amount)
        meta = Meta(kind=kind, user_id=user_id, note=reason[:300] or None)

        async def work(conn: AsyncConnection) -> Outcome:
            have = await ledger.balances(conn, user_id)
            grants = await ledger.system_account(conn, "grants")
            return await ledger.credit_user(conn, op or new_op("grant"), have, grants, amount, meta)

        return await in_transaction(self.database, work)

    async def revoke(
        self, user_id: int, amount: int, *, reason: str, op: str | None = None
    ) -> Outcome:
        """Take Sparks back (free first); refused when the user has fewer."""
        check_amount(amount)
        meta = Meta(kind="revoke", user_id=user_id, note=reason[:300] or None)

        async def work(conn: AsyncConnection) -> Outcome:
            have = await ledger.balances(conn, user_id)
            grants = await ledger.system_account(conn, "grants")
            return await ledger.debit_user(conn, op or new_op("revoke"), have, grants, amount, meta)

        return await in_transaction(self.database, work)

    async def spend(
        self,
        user_id: int,
        amount: int,
        *,
        op: str,
        action: str,
        ref: str | None = None,
    ) -> Outcome:
        """Charge ``amount`` at once (free Sparks first); idempotent by ``op``."""
        check_amount(amount)
        meta = Meta(kind="spend", user_id=user_id, action=action, ref=ref)

        async def work(conn: AsyncConnection) -> Outcome:
            have = await self.ready(conn, user_id)
            spending = await ledger.system_account(conn, "spending")
            return await ledger.debit_user(conn, op, have, spending, amount, meta)

        data = None
        if together.SET_BASED_SPENDS and not self.database.is_sqlite:
            data = Together(self._spends_together, together.Spend(user_id, amount, op, action, ref))
        return await in_transaction(self.database, work, together=data)

    async def hold(
        self,
        user_id: int,
        amount: int,
        *,
        op: str,
        action: str,
        ref: str | None = None,
        minutes: int | None = None,
    ) -> Outcome:
        """Hold ``amount`` for a two-phase spend; ``settle`` posts or releases it."""
        check_amount(amount)
        meta = Meta(kind="spend", user_id=user_id, action=action, ref=ref)
        expires = self.clock() + timedelta(minutes=minutes or self.settings.reservation_minutes)

        async def work(conn: AsyncConnection) -> Outcome:
            have = await self.ready(conn, user_id)
            spending = await ledger.system_account(conn, "spending")
            return await ledger.debit_user(
                conn, op, have, spending, amount, meta, expires_at=expires
            )

        return await in_transaction(self.database, work)

    async def settle(self, hold_op: str, charge: int, *, op: str | None = None) -> Outcome:
        """Post ``charge`` of a hold (capped at what it holds; 0 voids it) and release the
        rest. Repeating it, or settling an expired hold, changes nothing."""
        if charge < 0:
            raise InvalidInputError("A charge cannot be negative.")
        kind = "spend" if charge > 0 else "void"

        async def work(conn: AsyncConnection) -> Outcome:
            return await ledger.resolve(
                conn, op or f"{hold_op}:settle", hold_op, charge, Meta(kind, None)
            )

        return await in_transaction(self.database, work)

    async def settle_reply(self, hold_op: str, tokens: int | None) -> Outcome:
        """Charge a finished reply by its tokens (``None``: it failed; nothing is charged)."""
        charge = 0 if tokens is None else pricing.reply_cost(self.settings, tokens)
        return await self.settle(hold_op, charge)

    async def expire_stale(self, now: datetime | None = None) -> int:
        """Release holds past their expiry (a crash between hold and settle); how many."""
        moment = now or self.clock()

        async def stale(conn: AsyncConnection) -> list[str]:
            return await ledger.stale_holds(conn, moment)

        released = 0
        async with self.database.engine.connect() as conn:
            ops = await stale(conn)
        for hold_op in ops:

            async def work(conn: AsyncConnection, hold_op: str = hold_op) -> Outcome:
                return await ledger.resolve(
                    conn, f"{hold_op}:expire", hold_op, 0, Meta("expire", None)
                )

            outcome = await in_transaction(self.database, work)
            released += outcome.status == "created"
        return released


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a user's statement: a grant, a purchase, or a charge with its hold."""

    op: str
    at: datetime
    kind: str
    action: str | None
    what: str  # in words, for the page
    ref: str | None
    note: str | None
    sparks: int  # the effect on the balance: + in, - out (for a hold: what it charged)
    held: int  # still held (a reply streaming now)
    status: str  # posted | held | charged | released | expired


def _what(kind: str, action: str | None) -> str:
    if action is not None:
        return pricing.ACTIONS.get(action, action)
    return WHAT.get(kind, kind)


WHAT = {
    "daily": "Free daily Sparks",
    "grant": "Sparks granted by an admin",
    "revoke": "Sparks taken back by an admin",
    "purchase": "Sparks bought",
    "refund": "A refund of Sparks bought",
    "spend": "Spent",
}


async def history(
    conn: AsyncConnection, user_id: int, *, limit: int = 50, offset: int = 0
) -> list[Line]:
    """The user's statement, newest first: each operation once, a hold with its outcome."""
    t = ledger.transfers
    # A read: no accounts are made for a user who never had any (then there are no lines).
    own = set(
        await conn.scalars(select(ledger.accounts.c.id).where(ledger.accounts.c.user_id == user_id))
    )
    ops = (
        select(t.c.op, func.min(t.c.created_at).label("at"))
        .where(t.c.user_id == user_id, t.c.phase.in_(("posted", "pending")))
        .group_by(t.c.op)
        .order_by(func.min(t.c.created_at).desc(), t.c.op.desc())
        .limit(limit)
        .offset(offset)
        .subquery()
    )
    rows = (
        await conn.execute(
            select(t).join(ops, ops.c.op == t.c.op).order_by(ops.c.at.desc(), t.c.op.desc())
        )
    ).all()
    holds = [row.id for row in rows if row.phase == "pending"]
    outcomes = (
        {r.pending_id: r for r in await conn.execute(select(t).where(t.c.pending_id.in_(holds)))}
        if holds
        else {}
    )
    lines: dict[str, Line] = {}
    for row in rows:
        sign = 1 if row.credit_account_id in own else -1
        sparks, held, status = sign * row.amount, 0, "posted"
        if row.phase == "pending":
            outcome = outcomes.get(row.id)
            if outcome is None:
                sparks, held, status = 0, row.amount, "held"
            elif outcome.phase == "post":
                sparks, status = -outcome.amount, "charged"
            else:
                sparks, status = 0, "expired" if outcome.kind == "expire" else "released"
        earlier = lines.get(row.op)
        if earlier is not None:  # a second leg (the wallet's part)
            status = earlier.status if earlier.status != "released" else status
            sparks, held = earlier.sparks + sparks, earlier.held + held
        lines[row.op] = Line(
            op=row.op,
            at=row.created_at,
            kind=row.kind,
            action=row.action,
            what=_what(row.kind, row.action),
            ref=row.ref,
            note=row.note,
            sparks=sparks,
            held=held,
            status=status,
        )
    return list(lines.values())
