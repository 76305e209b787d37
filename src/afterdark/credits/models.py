"""Spark ledger tables: accounts and the immutable transfers between them.

Double entry: every transfer moves a positive amount from one account (debit) to another
(credit), so the Sparks in the system always sum to zero. A user has two accounts: ``free``
(the daily allowance, spent first) and ``wallet`` (purchases, plans, grants). System
accounts are where Sparks come from and go to (grants, purchases, spending, refunds,
expiry); they may run negative and keep no running totals (no hot row under load: their
balances are summed from the transfers when asked).

A user account keeps its totals on the row, and the database refuses any change that would
let it spend more than it holds (``ck_spark_accounts_no_overdraft``). Transfers are never
updated or deleted: a two-phase spend is a ``pending`` transfer (it holds the Sparks),
resolved at most once (a unique ``pending_id``) by a ``post`` (what was actually spent) or
a ``void`` (released: a failure, or expiry).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from afterdark.store.base import Base, CreatedAt

SYSTEM_ACCOUNTS = ("grants", "purchases", "spending", "refunds", "expiry")
USER_BUCKETS = ("free", "wallet")
PHASES = ("posted", "pending", "post", "void")
"""``posted``: a one-step transfer; ``pending``: a hold; ``post`` / ``void``: its outcome."""


class SparkAccount(Base):
    """One account: a user's bucket (``free``, ``wallet``) or a system account (``spending``)."""

    __tablename__ = "spark_accounts"
    __table_args__ = (
        CheckConstraint(
            "NOT no_overdraft OR debits_posted + debits_pending <= credits_posted",
            name="no_overdraft",
        ),
        CheckConstraint(
            "debits_posted >= 0 AND credits_posted >= 0 AND debits_pending >= 0",
            name="totals_positive",
        ),
        UniqueConstraint("user_id", "bucket", name="uq_spark_accounts_user_bucket"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # System accounts only ("spending"); a user's are known by (user_id, bucket).
    name: Mapped[str | None] = mapped_column(String(40), unique=True)
    # Set for user accounts; a deleted user's accounts stay (the ledger must balance) with
    # no link to anyone.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    bucket: Mapped[str] = mapped_column(String(10))  # free | wallet | system
    no_overdraft: Mapped[bool] = mapped_column(default=False)
    debits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    debits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    # The user's local day of the last daily allowance (free bucket only).
    daily_on: Mapped[date | None]


class SparkTransfer(CreatedAt, Base):
    """One immutable movement of Sparks. Its id is the idempotency key of the operation
    (a second leg of the same operation gets ``<op>/2``)."""

    __tablename__ = "spark_transfers"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="two_accounts"),
        Index("ix_spark_transfers_user_created", "user_id", "created_at"),
        Index("ix_spark_transfers_open", "phase", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    op: Mapped[str] = mapped_column(String(100), index=True)
    debit_account_id: Mapped[int] = mapped_column(ForeignKey("spark_accounts.id"), index=True)
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("spark_accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    phase: Mapped[str] = mapped_column(String(8))
    # A post or void names the hold it resolves; unique, so a hold is resolved once.
    pending_id: Mapped[str | None] = mapped_column(ForeignKey("spark_transfers.id"), unique=True)
    expires_at: Mapped[datetime | None]  # holds only
    # Whose statement it appears on (kept plain: amounts, ids and price-list names only).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))  # daily grant purchase spend refund ...
    action: Mapped[str | None] = mapped_column(String(40))  # the price-list line
    ref: Mapped[str | None] = mapped_column(String(120))  # e.g. generation:12
    note: Mapped[str | None] = mapped_column(String(300))  # an admin's reason
