"""Payment tables: Stripe events (each applied once), customers with their plan, payments.

``stripe_events``: every verified webhook event by its Stripe id (unique, so a duplicate or
replay is recorded once); ``processed_at`` is set in the same transaction that applies it,
so it applies exactly once. Its payload is kept only until then.
``stripe_customers``: a user's Stripe customer and their plan's state.
``stripe_payments``: what each payment credited, so a refund or dispute can reverse it.
``stripe_customer_deletions``: Stripe customers of deleted accounts still to be deleted at
Stripe (recorded in the transaction that deletes the account; the row goes once Stripe has
deleted the customer). It holds no link to the user.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from afterdark.store.base import Base, CreatedAt, Timestamps


class StripeEvent(Base):
    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # evt_...
    type: Mapped[str] = mapped_column(String(100))
    created: Mapped[int] = mapped_column(BigInteger)  # Stripe's epoch seconds
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None] = mapped_column(index=True)
    outcome: Mapped[str | None] = mapped_column(String(300))  # applied / ignored: why
    attempts: Mapped[int] = mapped_column(default=0)
    payload: Mapped[str | None] = mapped_column(Text)  # cleared once processed


class StripeCustomer(Timestamps, Base):
    __tablename__ = "stripe_customers"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[str] = mapped_column(String(255), unique=True)  # cus_...
    plan: Mapped[str | None] = mapped_column(String(40))  # a plan key while it is on
    plan_status: Mapped[str | None] = mapped_column(String(20))  # Stripe's status
    subscription_id: Mapped[str | None] = mapped_column(String(255))
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False)
    current_period_end: Mapped[datetime | None]
    plan_event_at: Mapped[int | None] = mapped_column(BigInteger)  # newest event applied


class StripePayment(CreatedAt, Base):
    __tablename__ = "stripe_payments"

    # The payment intent (or, without one, the invoice or Checkout Session) it came from.
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    invoice_id: Mapped[str | None] = mapped_column(String(255), index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))  # pack | plan
    item: Mapped[str] = mapped_column(String(40))  # the pack's or plan's key
    sparks: Mapped[int] = mapped_column(BigInteger)  # credited
    amount_cents: Mapped[int] = mapped_column(BigInteger)  # paid
    currency: Mapped[str] = mapped_column(String(3))
    op: Mapped[str] = mapped_column(String(100))  # the ledger operation that credited it
    reversed_sparks: Mapped[int] = mapped_column(BigInteger, default=0)  # refunds, disputes
    shortfall_sparks: Mapped[int] = mapped_column(BigInteger, default=0)  # already spent


class StripeCustomerDeletion(Base):
    __tablename__ = "stripe_customer_deletions"

    customer_id: Mapped[str] = mapped_column(String(255), primary_key=True)  # cus_...
    requested_at: Mapped[datetime]  # when the account was deleted
    attempts: Mapped[int] = mapped_column(default=0)  # calls to Stripe that failed
    last_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(300))
