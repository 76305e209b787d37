"""The Spark ledger on SQLite and PostgreSQL: grants, spends, holds, idempotency, the
database's own overdraft check, the daily allowance and expiry."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from afterdark.config import SparksSettings
from afterdark.credits import ledger, reconcile
from afterdark.credits.ledger import InsufficientSparksError, TransferIdReusedError
from afterdark.credits.models import SparkAccount, SparkTransfer
from afterdark.credits.service import Sparks
from afterdark.errors import InvalidInputError
from afterdark.kit.clock import utcnow
from afterdark.safety.models import WellbeingSettings
from afterdark.store.engine import Database
from tests.memory.helpers import users_named

SETTINGS = SparksSettings(daily_allowance=50, daily_cap=80, reply_tokens_per_spark=100)


async def make_user(db: Database, name: str = "ada") -> int:
    async with db.session() as session:
        [user] = users_named(name)
        session.add(user)
        await session.commit()
        return user.id


@pytest.fixture
async def sparks(db: Database) -> Sparks:
    return Sparks(db, SETTINGS)


async def test_first_use_gives_the_daily_allowance_once(sparks: Sparks, db: Database) -> None:
    user = await make_user(db)
    first = await sparks.statement(user)
    again = await sparks.statement(user)
    assert (first.free, first.wallet, first.available) == (50, 0, 50)
    assert again.available == 50  # the same day: nothing more
    async with db.session() as session:
        daily = (
            await session.scalars(select(SparkTransfer).where(SparkTransfer.kind == "daily"))
        ).all()
    assert [t.amount for t in daily] == [50]
    async with db.engine.connect() as conn:
        free_account = (await ledger.balances(conn, user, lock=False)).free_id
    # Keyed by the account (never reused), not the user (SQLite may reuse a deleted id).
    assert daily[0].id == f"daily:{free_account}:{first.today.isoformat()}"


async def test_the_daily_allowance_tops_up_to_the_cap_and_no_further(db: Database) -> None:
    clock = Clock()
    sparks = Sparks(db, SETTINGS, clock=clock)
    user = await make_user(db)

    async def next_day() -> None:
        clock.now += timedelta(days=1)

    await sparks.statement(user)  # 50 today
    await next_day()
    assert (await sparks.statement(user)).free == 80  # 50 more would be 100: capped at 80
    await next_day()
    assert (await sparks.statement(user)).free == 80  # at the cap: nothing
    await sparks.spend(user, 70, op="s1", action="test")
    await next_day()
    assert (await sparks.statement(user)).free == 60  # 10 left, plus 50


class Clock:
    """A clock a test moves forward."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


async def test_the_day_is_the_users_own(sparks: Sparks, db: Database) -> None:
    user = await make_user(db)
    async with db.session() as session:
        session.add(WellbeingSettings(user_id=user, timezone="Pacific/Kiritimati"))  # UTC+14
        await session.commit()
    statement = await sparks.statement(user)
    assert statement.today == (utcnow() + timedelta(hours=14)).date()


async def test_spends_take_free_sparks_first_then_the_wallet(sparks: Sparks, db: Database) -> None:
    user = await make_user(db)
    await sparks.grant(user, 100, reason="welcome")
    outcome = await sparks.spend(user, 70, op="spend-1", action="test", ref="x:1")
    assert (outcome.status, outcome.amount) == ("created", 70)
    statement = await sparks.statement(user)
    assert (statement.free, statement.wallet) == (0, 80)
    async with db.session() as session:
        legs = (
            await session.scalars(select(SparkTransfer).where(SparkTransfer.op == "spend-1"))
        ).all()
    assert sorted((leg.id, leg.amount) for leg in legs) == [("spend-1", 50), ("spend-1/2", 20)]


async def test_a_spend_is_applied_once_per_id(sparks: Sparks, db: Database) -> None:
    user = await make_user(db)
    await sparks.grant(user, 10, reason="test")
    first = await sparks.spend(user, 30, op="same", action="test")
    second = await sparks.spend(user, 30, op="same", action="test")
    assert (first.status, second.status) == ("created", "exists")
    assert (await sparks.statement(user)).available == 60 - 30
    with pytest.raises(TransferIdReusedError):
        await sparks.spend(user, 31, op="same", action="test")


async def test_a_repeated_spend_is_not_refused_for_lack_of_sparks(
    sparks: Sparks, db: Database
) -> None:
    user = await make_user(db)
    await sparks.spend(user, 50, op="all", action="test")
    assert (await sparks.spend(user, 50, op="all", action="test")).status == "exists"


async def test_overspending_is_refused_and_changes_nothing(sparks: Sparks, db: Database) -> None:
    user = await make_user(db)
    with pytest.raises(InsufficientSparksError) as refused:
        await sparks.spend(user, 51, op="big", action="test")
    assert refused.value.status == 402
    assert "needs 51 and you have 50" in refused.value.message
    assert (await sparks.statement(user)).available == 50
    async with db.session() as session:
        assert await session.get(SparkTransfer, "big") is None


async def test_the_database_itself_refuses_an_overdraft(sparks: Sparks, db: Database) -> None:
    user = await make_user(db)
    await sparks.statement(user)
    with pytest.raises(IntegrityError, match="no_overdraft"):
        async with db.engine.begin() as conn:
            await conn.execute(
                update(SparkAccount)
                .where(SparkAccount.user_id == user, SparkAccount.bucket == "free")
                .values(debits_posted=SparkAccount.credits_posted + 1)
            )


async def test_amounts_must_be_positive(sparks: Sparks, db: Database) -> None:
    user = await make_user(db)
    for amount in (0, -5):
        with pytest.raises(InvalidInputError):
            await sparks.grant(user, amount, reason="x")
    with pytest.raises(IntegrityError):
        async with db.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO spark_transfers (id, op, debit_account_id, credit_account_id, "
                    "amount, phase, kind, created_at) VALUES ('z', 'z', 1, 2, 0, 'posted', "
                    "'grant', CURRENT_TIMESTAMP)"
                )
            )


async def test_a_hold_is_posted_for_what_was_spent_and_releases_the_rest(
    sparks: Sparks, db: Database
) -> None:
    user = await make_user(db)
    await sparks.hold(user, 30, op="gen:1", action="chat.reply")
    held = await sparks.statement(user)
    assert (held.available, held.held) == (20, 30)
    posted = await sparks.settle("gen:1", 12)
    assert (posted.status, posted.amount) == ("created", 12)
    after = await sparks.statement(user)
    assert (after.available, after.held) == (38, 0)
    again = await sparks.settle("gen:1", 12)
    assert again.status == "exists"
    assert (await sparks.statement(user)).available == 38


async def test_a_charge_above_the_hold_is_capped_and_zero_voids(
    sparks: Sparks, db: Database
) -> None:
    user = await make_user(db)
    await sparks.hold(user, 10, op="h1", action="chat.reply")
    assert (await sparks.settle("h1", 99)).amount == 10
    await sparks.hold(user, 10, op="h2", action="chat.reply")
    assert (await sparks.settle("h2", 0)).amount == 0
    assert (await sparks.statement(user)).available == 40
    async with db.session() as session:
        void = await session.scalar(select(SparkTransfer).where(SparkTransfer.pending_id == "h2"))
    assert void is not None
    assert (void.phase, void.amount, void.kind) == ("void", 10, "void")


async def test_a_hold_across_both_buckets_posts_free_sparks_first(
    sparks: Sparks, db: Database
) -> None:
    user = await make_user(db)
    await sparks.grant(user, 100, reason="test")
    await sparks.hold(user, 80, op="h", action="chat.reply")  # 50 free + 30 wallet
    await sparks.settle("h", 60)  # 50 free + 10 wallet; 20 back to the wallet
    statement = await sparks.statement(user)
    assert (statement.free, statement.wallet, statement.held) == (0, 90, 0)


async def test_stale_holds_expire_and_a_late_settle_changes_nothing(
    sparks: Sparks, db: Database
) -> None:
    user = await make_user(db)
    await sparks.hold(user, 40, op="crashed", action="chat.reply", minutes=1)
    await sparks.hold(user, 5, op="fresh", action="chat.reply", minutes=60)
    assert await sparks.expire_stale(utcnow() + timedelta(minutes=2)) == 1
    assert await sparks.expire_stale(utcnow() + timedelta(minutes=2)) == 0
    statement = await sparks.statement(user)
    assert (statement.available, statement.held) == (45, 5)
    assert (await sparks.settle("crashed", 40)).status == "exists"
    assert (await sparks.statement(user)).available == 45


async def test_revoke_takes_back_what_the_user_has_and_no_more(
    sparks: Sparks, db: Database
) -> None:
    user = await make_user(db)
    await sparks.grant(user, 20, reason="test")
    await sparks.statement(user)  # + 50 free
    await sparks.revoke(user, 60, reason="mistake")
    assert (await sparks.statement(user)).available == 10
    with pytest.raises(InsufficientSparksError):
        await sparks.revoke(user, 11, reason="too much")


async def test_the_books_reconcile_after_every_kind_of_operation(
    sparks: Sparks, db: Database
) -> None:
    user = await make_user(db)
    other = await make_user(db, "bea")
    await sparks.grant(user, 100, reason="test")
    await sparks.spend(user, 70, op="s", action="test")
    await sparks.hold(user, 30, op="h", action="chat.reply")
    await sparks.hold(other, 20, op="h2", action="chat.reply")
    await sparks.settle("h", 7)
    report = await reconcile.reconcile(db)
    assert report.drift == []
    assert report.accounts >= 4 + 5
    assert report.total == 0  # double entry: every Spark came from somewhere
    async with db.engine.begin() as conn:
        await conn.execute(
            update(SparkAccount)
            .where(SparkAccount.user_id == other, SparkAccount.bucket == "free")
            .values(credits_posted=SparkAccount.credits_posted + 5)
        )
    drift = (await reconcile.reconcile(db)).drift
    assert [(d.name, d.field, d.stored, d.summed) for d in drift] == [
        (f"user:{other}:free", "credits_posted", 55, 50)
    ]


async def test_user_accounts_are_made_once(db: Database) -> None:
    user = await make_user(db)
    async with db.engine.begin() as conn:
        first = await ledger.balances(conn, user)
        second = await ledger.balances(conn, user)
    assert (first.free_id, first.wallet_id) == (second.free_id, second.wallet_id)


async def test_the_statement_shows_each_operation_once_with_its_outcome(
    sparks: Sparks, db: Database
) -> None:
    user = await make_user(db)
    await sparks.grant(user, 100, reason="a welcome gift")
    await sparks.hold(user, 80, op="reply:1", action="chat.reply", ref="generation:1")
    await sparks.settle("reply:1", 60)
    await sparks.hold(user, 10, op="reply:2", action="chat.reply", ref="generation:2")
    await sparks.hold(user, 10, op="reply:3", action="chat.reply", ref="generation:3")
    await sparks.settle("reply:3", 0)
    lines = {line.op: line for line in await sparks.history(user)}
    assert {op for op in lines if op.startswith("daily:")} == {
        op for op in lines if lines[op].kind == "daily"
    }
    assert set(lines) == {op for op in lines if op.startswith("daily:")} | {
        "reply:1",
        "reply:2",
        "reply:3",
    } | {op for op in lines if op.startswith("grant:")}
    assert (lines["reply:1"].sparks, lines["reply:1"].status) == (-60, "charged")
    assert (lines["reply:2"].held, lines["reply:2"].status) == (10, "held")
    assert (lines["reply:3"].sparks, lines["reply:3"].status) == (0, "released")
    [grant] = [line for line in lines.values() if line.kind == "grant"]
    assert (grant.sparks, grant.note, grant.what) == (
        100,
        "a welcome gift",
        "Sparks granted by an admin",
    )
    assert lines["reply:1"].what.startswith("A chat reply")
    newest_first = [line.op for line in await sparks.history(user)]
    assert newest_first[0] == "reply:3"
    assert len(await sparks.history(user, limit=2)) == 2


async def test_a_deleted_users_ledger_stays_and_a_new_user_starts_clean(
    sparks: Sparks, db: Database
) -> None:
    """Deleting an account keeps its ledger (amounts, without the user); SQLite may give the
    deleted user's id to the next account, which must start with accounts of its own."""
    gone = await make_user(db, "gone")
    await sparks.grant(gone, 30, reason="test")
    await sparks.spend(gone, 10, op="before-deletion", action="test")
    async with db.engine.begin() as conn:
        await conn.execute(text("DELETE FROM users WHERE id = :id"), {"id": gone})
    new = await make_user(db, "new")
    statement = await sparks.statement(new)
    assert (statement.free, statement.wallet) == (50, 0)
    assert [line.kind for line in await sparks.history(new)] == ["daily"]
    async with db.session() as session:
        orphans = (
            await session.scalars(
                select(SparkAccount).where(
                    SparkAccount.user_id.is_(None), SparkAccount.bucket != "system"
                )
            )
        ).all()
        kept = await session.get(SparkTransfer, "before-deletion")
    assert sorted(a.bucket for a in orphans) == ["free", "wallet"]
    assert kept is not None
    assert kept.user_id is None
    report = await reconcile.reconcile(db)
    assert report.ok
    assert report.total == 0
