"""Sparks request and response shapes: a statement (with the user's plan), its lines, the
price list (with the packs and plans on sale), an admin's grant or revoke."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from afterdark.config import SparksSettings
from afterdark.credits import pricing
from afterdark.credits.payments.settings import Pack, PaymentsSettings, Plan, unlock_words
from afterdark.credits.pricing import PRICE_UNIT, cents_per_spark, money_of, unit_money
from afterdark.credits.service import MAX_AMOUNT, Line, Statement

PAYMENTS_NOTE = "Payments are not set up on this instance yet; an admin can grant Sparks."
PAYMENTS_ON_NOTE = (
    "Payments go through Stripe: Afterdark never sees your card. A pack is paid once. A plan "
    "is paid monthly until you cancel it, in one click on your Sparks page; it then stays on "
    "until the end of the month you paid for."
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class UnlockPublic(BaseModel):
    key: str = Field(description="premium_images, voice or explicit.")
    what: str = Field(description="What it unlocks, in plain words.")


def unlocks_of(keys: list[str]) -> list[UnlockPublic]:
    return [UnlockPublic(key=key, what=unlock_words(key)) for key in keys]


class PlanStatePublic(BaseModel):
    """The user's plan, as Stripe's latest event left it."""

    key: str
    name: str
    status: str | None = Field(
        description="Stripe's state: active, trialing, past_due (a payment being retried), "
        "incomplete, unpaid, canceled...; null until Stripe has confirmed it."
    )
    active: bool = Field(description="On now: its unlocks apply.")
    cancel_at_period_end: bool = Field(
        description="Cancelled: it stays on until `current_period_end` and does not renew."
    )
    current_period_end: datetime | None = Field(description="The end of the paid month (UTC).")
    unlocks: list[UnlockPublic] = Field(description="What it unlocks now (none while not on).")


class SparksStatementPublic(BaseModel):
    enabled: bool = Field(description="Whether replies cost Sparks here; off: all is free.")
    available: int = Field(description="What the user can spend now: free plus wallet.")
    free: int = Field(description="Free Sparks (the daily allowance), spent first.")
    wallet: int = Field(description="Sparks granted or bought.")
    held: int = Field(description="Sparks held by replies still being written.")
    daily_allowance: int
    daily_cap: int = Field(description="The daily top-up never lifts free Sparks past this.")
    today: date = Field(description="The user's date, in their saved time zone.")
    plan: PlanStatePublic | None = Field(
        default=None, description="The user's monthly plan, if they have one."
    )
    billing: bool = Field(
        default=False,
        description="Payments are on and the user has a Stripe customer: the billing portal "
        "(invoices, payment method) is open to them.",
    )

    @classmethod
    def of(
        cls,
        statement: Statement,
        *,
        enabled: bool,
        plan: PlanStatePublic | None = None,
        billing: bool = False,
    ) -> SparksStatementPublic:
        return cls(
            enabled=enabled,
            available=statement.available,
            free=statement.free,
            wallet=statement.wallet,
            held=statement.held,
            daily_allowance=statement.daily_allowance,
            daily_cap=statement.daily_cap,
            today=statement.today,
            plan=plan,
            billing=billing,
        )


class SparkLinePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    op: str
    at: datetime
    kind: str
    action: str | None = Field(description="The price-list line, for a charge.")
    what: str = Field(description="What it was for, in words.")
    ref: str | None
    note: str | None = Field(description="An admin's reason, for a grant or revoke.")
    sparks: int = Field(description="The effect on the balance: + in, - out.")
    held: int = Field(description="Sparks still held (a reply being written).")
    status: Literal["posted", "held", "charged", "released", "expired"]


def lines_of(lines: list[Line]) -> list[SparkLinePublic]:
    return [SparkLinePublic.model_validate(line) for line in lines]


class SparksAccountPublic(BaseModel):
    """An account's Sparks as an admin sees them."""

    user_id: int
    statement: SparksStatementPublic
    lines: list[SparkLinePublic] = Field(description="The latest lines, newest first.")


class PriceLinePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    action: str
    what: str
    sparks: str = Field(description="The cost in Sparks, in words.")
    example: str


class PackPublic(BaseModel):
    """A one-off Spark pack on sale."""

    key: str = Field(description="Its name in `POST /api/v1/me/sparks/checkout`.")
    name: str
    sparks: int = Field(description="Sparks credited once Stripe confirms the payment.")
    amount_cents: int = Field(description="Its price in cents of `currency`.")
    price: Decimal = Field(description='Its price in `currency`, exact: e.g. "2.99".')
    price_money: str = Field(description="Its price in words, e.g. 2.99 EUR.")
    per_spark_cents: Decimal = Field(
        description="What one of its Sparks costs in cents, half-up to hundredths of a cent."
    )
    price_unit_money: str = Field(
        description="What `price_unit` of its Sparks cost, half-up to cents, e.g. 0.60 EUR."
    )

    @classmethod
    def of(cls, pack: Pack, currency: str) -> PackPublic:
        per = cents_per_spark(pack.amount_cents, pack.sparks)
        unit = unit_money(pack.amount_cents, pack.sparks, currency)
        assert per is not None  # a pack has at least one Spark
        assert unit is not None
        return cls(
            key=pack.key,
            name=pack.name,
            sparks=pack.sparks,
            amount_cents=pack.amount_cents,
            price=money_of(pack.amount_cents),
            price_money=f"{money_of(pack.amount_cents)} {currency}",
            per_spark_cents=per,
            price_unit_money=unit,
        )


class PlanPublic(BaseModel):
    """A monthly plan on sale."""

    key: str = Field(description="Its name in `POST /api/v1/me/sparks/checkout`.")
    name: str
    monthly_sparks: int = Field(description="Sparks granted each paid month.")
    amount_cents: int = Field(description="Its monthly price in cents of `currency`.")
    price: Decimal = Field(description="Its monthly price in `currency`, exact.")
    price_money: str = Field(description="Its monthly price in words, e.g. 9.99 EUR.")
    per_spark_cents: Decimal | None = Field(
        description="What one of its monthly Sparks costs in cents (null: it grants none)."
    )
    price_unit_money: str | None = Field(
        description="What `price_unit` of its monthly Sparks cost (null: it grants none)."
    )
    unlocks: list[UnlockPublic] = Field(description="What it unlocks, in plain words.")

    @classmethod
    def of(cls, plan: Plan, currency: str) -> PlanPublic:
        per = cents_per_spark(plan.amount_cents, plan.monthly_sparks)
        return cls(
            key=plan.key,
            name=plan.name,
            monthly_sparks=plan.monthly_sparks,
            amount_cents=plan.amount_cents,
            price=money_of(plan.amount_cents),
            price_money=f"{money_of(plan.amount_cents)} {currency}",
            per_spark_cents=per,
            price_unit_money=unit_money(plan.amount_cents, plan.monthly_sparks, currency),
            unlocks=unlocks_of(list(plan.unlocks)),
        )


class PricingPublic(BaseModel):
    enabled: bool = Field(description="Whether replies cost Sparks here; off: all is free.")
    lines: list[PriceLinePublic]
    spark_price_cents: float = Field(description="What one Spark costs, in cents of currency.")
    currency: str
    price_unit: int = Field(description="How many Sparks `price_unit_money` buys.")
    price_unit_money: str = Field(description="What `price_unit` Sparks cost, e.g. 0.50 EUR.")
    daily_allowance: int = Field(description="Free Sparks given at a user's first use each day.")
    daily_cap: int = Field(description="The daily top-up never lifts free Sparks past this.")
    payments: bool = Field(description="Whether Sparks can be bought here (Stripe is set up).")
    payments_note: str
    payments_currency: str = Field(description="The currency of packs and plans, e.g. EUR.")
    packs: list[PackPublic] = Field(
        description="One-off packs on sale; none while payments are off."
    )
    plans: list[PlanPublic] = Field(
        description="Monthly plans on sale; none while payments are off."
    )

    @classmethod
    def of(
        cls,
        settings: SparksSettings,
        payments: PaymentsSettings | None = None,
        *,
        premium_pictures: bool = False,
    ) -> PricingPublic:
        on = payments is not None and payments.configured
        currency = (payments or PaymentsSettings()).currency.upper()
        lines = pricing.price_list(settings, premium_pictures=premium_pictures)
        return cls(
            enabled=settings.enabled,
            lines=[PriceLinePublic.model_validate(p) for p in lines],
            spark_price_cents=settings.spark_price_cents,
            currency=settings.currency,
            price_unit=PRICE_UNIT,
            price_unit_money=pricing.money(settings, PRICE_UNIT),
            daily_allowance=settings.daily_allowance,
            daily_cap=settings.daily_cap,
            payments=on,
            payments_note=PAYMENTS_ON_NOTE if on else PAYMENTS_NOTE,
            payments_currency=currency,
            packs=[PackPublic.of(p, currency) for p in payments.packs] if payments and on else [],
            plans=[PlanPublic.of(p, currency) for p in payments.plans] if payments and on else [],
        )


class SparksAdjustment(BaseModel):
    """An admin's grant or revoke, with the reason the user will read on their statement."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["grant", "revoke"]
    amount: int = Field(ge=1, le=MAX_AMOUNT, description="Sparks to give or take back.")
    reason: str = Field(min_length=1, max_length=300, description="Shown to the user.")

    @field_validator("reason")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if _CONTROL.search(value):
            raise ValueError("the reason must be one line of text, without control characters")
        if not value.strip():
            raise ValueError("say why: the user reads the reason on their statement")
        return value.strip()
