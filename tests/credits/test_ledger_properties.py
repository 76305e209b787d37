"""The Sparks service as a state machine, on SQLite and PostgreSQL, against a plain model.

Hypothesis drives grants, revokes (Sparks taken back), spends and holds under fresh and
repeated ids (one small pool of ids for every kind, with ids that are another operation's
second leg), settles charging nothing, part, all or more than was held, expiry with a
moved clock, and the daily allowance across days in three time zones; some steps send
several operations at once, so they share one transaction (group commit). After every step
each user's free, wallet and held Sparks and allowance day are the model's, none is
negative, and the books reconcile (stored totals are the sums of the transfers, which sum
to 0).

Each example gets fresh users and its own event loop (``asyncio.Runner``): hypothesis
calls the rules synchronously, so the machine runs each step to completion on its loop.
The database is migrated once per test and shared by the examples; ids carry the
example's prefix, and every hold still open at the end is voided, so examples never see
each other's operations.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar, TypeVar
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from afterdark.config import SparksSettings
from afterdark.credits import ledger, reconcile
from afterdark.credits.ledger import InsufficientSparksError, Outcome, TransferIdReusedError
from afterdark.credits.service import Sparks
from afterdark.safety.models import WellbeingSettings
from afterdark.store.engine import Database
from afterdark.store.migrate import upgrade
from tests.conftest import fresh_keyring
from tests.memory.helpers import users_named

T = TypeVar("T")
SETTINGS = SparksSettings(daily_allowance=20, daily_cap=30, reservation_minutes=30)
# Late in the UTC day, a DST change (Europe, 31 March) ahead: days turn at different
# moments in each zone.
START = datetime(2030, 3, 30, 21, 30, tzinfo=UTC)
ZONES = ("UTC", "Pacific/Kiritimati", "America/Los_Angeles")
IDS = ("a", "b", "a/2", "c")  # "a/2" is also the id of "a"'s second leg, when it has one
# Half the operations take a fresh id, the rest one of IDS, whatever it was used for.
NAMES = st.sampled_from((None, None, None, None, *IDS))
USERS = st.integers(0, 1)
SPEND_OR_REVOKE = st.sampled_from(("spend", "spend", "revoke"))
MINUTES = st.sampled_from((None, 1, 5, 90))
CHARGES = st.sampled_from(("nothing", "part", "all", "more"))
OPERATIONS = st.one_of(
    st.tuples(st.just("grant"), USERS, st.integers(1, 80), NAMES),
    st.tuples(SPEND_OR_REVOKE, USERS, st.integers(1, 30), NAMES),
    st.tuples(st.just("hold"), USERS, st.integers(1, 40), NAMES),
    st.tuples(st.just("settle"), st.integers(0, 20), CHARGES, st.sampled_from((None, *IDS))),
)
Reused = TransferIdReusedError
FAR = timedelta(days=3650)
MACHINE = settings(
    max_examples=12,
    # No shrinking: each step is a few real transactions, and shrinking a failure took
    # over five minutes; the failing steps are printed as they ran.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
_machines = itertools.count(1)


@dataclass
class Account:
    """The model of one user's Sparks: available free and wallet Sparks."""

    user_id: int
    zone: ZoneInfo
    free: int = 0
    wallet: int = 0
    daily_on: date | None = None


@dataclass
class Hold:
    user: int  # index into the machine's accounts
    legs: list[tuple[str, int]]  # (bucket, Sparks), free first
    expires_at: datetime
    open: bool = True


@dataclass
class Books:
    """The model of the whole ledger (of this example)."""

    accounts: list[Account] = field(default_factory=list)
    ops: dict[str, tuple[str, str, int, int]] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)  # every transfer id written
    holds: dict[str, Hold] = field(default_factory=dict)

    def held(self, user: int) -> int:
        return sum(
            amount for h in self.holds.values() if h.open and h.user == user for _, amount in h.legs
        )

    def write(self, op: str, key: tuple[str, str, int, int], legs: int) -> None:
        self.ops[op] = key
        self.taken.update(ledger.leg_id(op, n) for n in range(legs))

    def clash(self, op: str, legs: int) -> bool:
        """Whether one of the transfer ids ``op`` would write is taken already."""
        return any(ledger.leg_id(op, n) in self.taken for n in range(legs))


@dataclass
class Planned:
    """An operation's call, and what the model says it returns (or raises)."""

    call: Awaitable[Outcome]
    expected: str | type[Exception]
    amount: int


def legs_of(account: Account, amount: int) -> list[tuple[str, int]]:
    from_free = min(account.free, amount)
    legs = [("free", from_free), ("wallet", amount - from_free)]
    return [(bucket, part) for bucket, part in legs if part > 0]


class LedgerMachine(RuleBasedStateMachine):
    """One example: two fresh users, a clock the rules move, and the model."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.runner = asyncio.Runner(loop_factory=asyncio.new_event_loop)
        self.db = Database(url, keyring=fresh_keyring())
        self.now = START
        self.sparks = Sparks(self.db, SETTINGS, clock=lambda: self.now)
        self.prefix = f"m{next(_machines)}-"
        self.fresh = (f"{self.prefix}op{n}" for n in itertools.count())
        self.books = Books()

    def run(self, step: Awaitable[T]) -> T:
        async def wrapped() -> T:
            return await step

        return self.runner.run(wrapped())

    def teardown(self) -> None:
        try:
            if self.books.accounts:
                self.run(self.sparks.expire_stale(self.now + FAR))
            self.run(self.db.dispose())
        finally:
            self.runner.close()

    # -- the model's side of each operation ---------------------------------------------

    def op_id(self, name: str | None) -> str:
        return next(self.fresh) if name is None else self.prefix + name

    def ready(self, account: Account) -> Account:
        """The account after today's allowance (``Sparks.ready``), as a new value."""
        today = self.now.astimezone(account.zone).date()
        if account.daily_on is not None and account.daily_on >= today:
            return account
        grant = min(SETTINGS.daily_allowance, max(SETTINGS.daily_cap - account.free, 0))
        return replace(account, daily_on=today, free=account.free + grant)

    def run_all(self, planned: list[Planned]) -> None:
        """Send the operations at once (one batch: they run in this order) and compare each
        outcome with the model's, which planning them already applied."""

        async def together() -> list[Any]:
            return await asyncio.gather(*(p.call for p in planned), return_exceptions=True)

        for plan, got in zip(planned, self.run(together()), strict=True):
            if isinstance(plan.expected, type):
                assert isinstance(got, plan.expected), got
            else:
                assert isinstance(got, Outcome), got
                assert (got.status, got.amount) == (plan.expected, plan.amount)

    def plan(self, what: str, user: int, amount: int, name: str | None, **extra: Any) -> Planned:
        """One operation: its call, and its outcome per the model (applied now)."""
        account, op = self.books.accounts[user], self.op_id(name)
        if what == "grant":
            call = self.sparks.grant(account.user_id, amount, reason="test", op=op)
            return self.expect_credit(user, op, amount, call)
        if what == "spend":
            call = self.sparks.spend(account.user_id, amount, op=op, action="test")
        elif what == "hold":
            minutes = extra.get("minutes")
            call = self.sparks.hold(account.user_id, amount, op=op, action="t", minutes=minutes)
        else:
            call = self.sparks.revoke(account.user_id, amount, reason="test", op=op)
        return self.expect_debit(user, op, what, amount, call, extra.get("minutes"))

    def expect_credit(self, user: int, op: str, amount: int, call: Awaitable[Outcome]) -> Planned:
        account = self.books.accounts[user]
        key = ("grant", "posted", account.user_id, amount)
        if op in self.books.ops:
            return Planned(call, "exists" if self.books.ops[op] == key else Reused, amount)
        if self.books.clash(op, 1):
            return Planned(call, Reused, amount)
        self.books.write(op, key, 1)
        account.wallet += amount
        return Planned(call, "created", amount)

    def expect_debit(
        self,
        user: int,
        op: str,
        what: str,
        amount: int,
        call: Awaitable[Outcome],
        minutes: int | None,
    ) -> Planned:
        """What a spend, hold or revoke does (``ledger.debit_user`` after ``Sparks.ready``)."""
        account = self.books.accounts[user]
        before = account if what == "revoke" else self.ready(account)
        kind, phase = ("spend", "pending") if what == "hold" else (what, "posted")
        key = (kind, phase, account.user_id, amount)
        if op in self.books.ops:
            if self.books.ops[op] != key:
                return Planned(call, Reused, amount)  # rolled back, today's allowance too
            self.books.accounts[user] = before  # the allowance given on the way stays
            return Planned(call, "exists", amount)
        if amount > before.free + before.wallet:
            return Planned(call, InsufficientSparksError, amount)
        legs = legs_of(before, amount)
        if self.books.clash(op, len(legs)):
            return Planned(call, Reused, amount)
        taken = dict(legs)
        self.books.accounts[user] = replace(
            before,
            free=before.free - taken.get("free", 0),
            wallet=before.wallet - taken.get("wallet", 0),
        )
        self.books.write(op, key, len(legs))
        if what == "hold":
            expires = self.now + timedelta(minutes=minutes or SETTINGS.reservation_minutes)
            self.books.holds[op] = Hold(user, legs, expires)
        return Planned(call, "created", amount)

    def plan_settle(self, pick: int, charge: str, name: str | None) -> Planned:
        if pick == 0 or not self.books.holds:  # a hold that was never made
            return Planned(self.sparks.settle(self.prefix + "never", 5), "exists", 0)
        hold_op = sorted(self.books.holds)[pick % len(self.books.holds)]
        hold = self.books.holds[hold_op]
        total = sum(amount for _, amount in hold.legs)
        amount = {"nothing": 0, "part": max(total // 3, 1), "all": total, "more": total + 7}
        op = f"{hold_op}:settle" if name is None else self.prefix + name
        call = self.sparks.settle(hold_op, amount[charge], op=op)
        if not hold.open:
            return Planned(call, "exists", 0)
        if self.books.clash(op, len(hold.legs)):
            return Planned(call, Reused, 0)
        return Planned(call, "created", self.resolve(hold_op, op, amount[charge]))

    # -- rules --------------------------------------------------------------------------

    @initialize(zones=st.lists(st.sampled_from(ZONES), min_size=2, max_size=2))
    def users(self, zones: list[str]) -> None:
        async def make() -> list[int]:
            async with self.db.session() as session:
                users = users_named(*(f"{self.prefix}{n}" for n in range(len(zones))))
                session.add_all(users)
                await session.flush()
                for user, zone in zip(users, zones, strict=True):
                    session.add(WellbeingSettings(user_id=user.id, timezone=zone))
                await session.commit()
                return [user.id for user in users]

        ids = self.run(make())
        self.books.accounts = [Account(i, ZoneInfo(z)) for i, z in zip(ids, zones, strict=True)]

    @rule(user=USERS, amount=st.integers(1, 80), name=NAMES)
    def grant(self, user: int, amount: int, name: str | None) -> None:
        self.run_all([self.plan("grant", user, amount, name)])

    @rule(user=USERS, amount=st.integers(1, 30), name=NAMES, what=SPEND_OR_REVOKE)
    def spend_or_revoke(self, user: int, amount: int, name: str | None, what: str) -> None:
        self.run_all([self.plan(what, user, amount, name)])

    @rule(user=USERS, amount=st.integers(1, 40), name=NAMES, minutes=MINUTES)
    def hold(self, user: int, amount: int, name: str | None, minutes: int | None) -> None:
        self.run_all([self.plan("hold", user, amount, name, minutes=minutes)])

    @precondition(lambda self: any(key[0] != "resolve" for key in self.books.ops.values()))
    @rule(pick=st.integers(0, 50), same=st.booleans())
    def repeat(self, pick: int, same: bool) -> None:
        """Send an earlier grant, revoke, spend or hold again: the same (nothing happens
        twice), or with one Spark more (refused)."""
        earlier = sorted(op for op, key in self.books.ops.items() if key[0] != "resolve")
        op = earlier[pick % len(earlier)]
        kind, phase, user_id, amount = self.books.ops[op]
        user = next(n for n, a in enumerate(self.books.accounts) if a.user_id == user_id)
        what = "hold" if phase == "pending" else kind
        name = op.removeprefix(self.prefix)
        self.run_all([self.plan(what, user, amount + (0 if same else 1), name)])

    @precondition(lambda self: bool(self.books.holds))
    @rule(pick=st.integers(0, 20), charge=CHARGES, name=st.sampled_from((None, None, *IDS)))
    def settle(self, pick: int, charge: str, name: str | None) -> None:
        self.run_all([self.plan_settle(pick, charge, name)])

    @rule(operations=st.lists(OPERATIONS, min_size=2, max_size=6))
    def sent_together(self, operations: list[tuple[Any, ...]]) -> None:
        """Several operations at once, so they share a transaction (group commit): each
        still has the outcome it would have alone, in the order they were sent."""
        self.run_all(
            [
                self.plan_settle(*args) if what == "settle" else self.plan(what, *args)
                for what, *args in operations
            ]
        )

    def resolve(self, hold_op: str, op: str, charge: int) -> int:
        """The model of ``ledger.resolve``: post ``charge`` (free leg first), release the
        rest; what it charged."""
        hold = self.books.holds[hold_op]
        account = self.books.accounts[hold.user]
        left, charged = charge, 0
        for bucket, amount in hold.legs:
            take = min(amount, left)
            left -= take
            charged += take
            setattr(account, bucket, getattr(account, bucket) + amount - take)
        hold.open = False
        self.books.write(op, ("resolve", "", account.user_id, charge), len(hold.legs))
        return charged

    @rule(minutes=st.sampled_from((0, 2, 31, 91, 60 * 5, 60 * 20)), expire=st.booleans())
    def time_passes(self, minutes: int, expire: bool) -> None:
        """The clock moves on (across days, in some zones); stale holds expire, or wait."""
        self.now += timedelta(minutes=minutes)
        if not expire:
            return
        stale = [
            op for op, h in sorted(self.books.holds.items()) if h.open and h.expires_at < self.now
        ]
        released = self.run(self.sparks.expire_stale())
        for op in stale:
            self.resolve(op, f"{op}:expire", 0)
        assert released == len(stale)

    @rule(user=st.integers(0, 1))
    def statement(self, user: int) -> None:
        account = self.books.accounts[user] = self.ready(self.books.accounts[user])
        got = self.run(self.sparks.statement(account.user_id))
        assert (got.free, got.wallet, got.held) == (
            account.free,
            account.wallet,
            self.books.held(user),
        )
        assert got.today == self.now.astimezone(account.zone).date()

    # -- invariants ---------------------------------------------------------------------

    checked: ClassVar[list[int]] = []
    """Transfers in the books at each invariant check, across examples (the test's proof
    that the machine ran and moved Sparks)."""

    @invariant()
    def balances_are_the_models_and_the_books_reconcile(self) -> None:
        async def read() -> tuple[list[ledger.Balances], reconcile.Report]:
            async with self.db.engine.connect() as conn:
                have = [
                    await ledger.balances(conn, account.user_id, lock=False)
                    for account in self.books.accounts
                ]
            return have, await reconcile.reconcile(self.db)

        balances, report = self.run(read())
        for user, (have, account) in enumerate(zip(balances, self.books.accounts, strict=True)):
            assert (have.free, have.wallet, have.held, have.daily_on) == (
                account.free,
                account.wallet,
                self.books.held(user),
                account.daily_on,
            )
            assert min(have.free, have.wallet, have.held) >= 0
        assert report.drift == []
        assert report.problems == []
        assert report.total == 0
        LedgerMachine.checked.append(report.transfers)


@pytest.fixture
def migrated_url(database_url: str) -> str:
    """A migrated database's URL: the machine opens its own ``Database`` on its loop."""

    async def migrate() -> None:
        database = Database(database_url, keyring=fresh_keyring())
        try:
            await upgrade(database)
        finally:
            await database.dispose()

    with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
        runner.run(migrate())
    return database_url


def test_the_ledger_keeps_its_invariants(migrated_url: str) -> None:
    def machine() -> Any:
        return LedgerMachine(migrated_url)

    LedgerMachine.checked.clear()
    run_state_machine_as_test(machine, settings=MACHINE)
    # The invariants ran after every step of every example, over books that held transfers.
    assert len(LedgerMachine.checked) > MACHINE.max_examples
    assert max(LedgerMachine.checked) > 0
