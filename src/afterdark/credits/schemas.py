"""Sparks request and response shapes: a statement, its lines, the price list, an admin's
grant or revoke."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from afterdark.config import SparksSettings
from afterdark.credits import pricing
from afterdark.credits.service import MAX_AMOUNT, Line, Statement

PAYMENTS_NOTE = "Payments are not set up on this instance yet; an admin can grant Sparks."
PRICE_UNIT = 100
"""The price list quotes money per this many Sparks: one Spark is often under a cent."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SparksStatementPublic(BaseModel):
    enabled: bool = Field(description="Whether replies cost Sparks here; off: all is free.")
    available: int = Field(description="What the user can spend now: free plus wallet.")
    free: int = Field(description="Free Sparks (the daily allowance), spent first.")
    wallet: int = Field(description="Sparks granted or bought.")
    held: int = Field(description="Sparks held by replies still being written.")
    daily_allowance: int
    daily_cap: int = Field(description="The daily top-up never lifts free Sparks past this.")
    today: date = Field(description="The user's date, in their saved time zone.")

    @classmethod
    def of(cls, statement: Statement, *, enabled: bool) -> SparksStatementPublic:
        return cls(
            enabled=enabled,
            available=statement.available,
            free=statement.free,
            wallet=statement.wallet,
            held=statement.held,
            daily_allowance=statement.daily_allowance,
            daily_cap=statement.daily_cap,
            today=statement.today,
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


class PricingPublic(BaseModel):
    enabled: bool = Field(description="Whether replies cost Sparks here; off: all is free.")
    lines: list[PriceLinePublic]
    spark_price_cents: float = Field(description="What one Spark costs, in cents of currency.")
    currency: str
    price_unit: int = Field(description="How many Sparks `price_unit_money` buys.")
    price_unit_money: str = Field(description="What `price_unit` Sparks cost, e.g. 0.50 EUR.")
    daily_allowance: int = Field(description="Free Sparks given at a user's first use each day.")
    daily_cap: int = Field(description="The daily top-up never lifts free Sparks past this.")
    payments: bool = Field(description="Whether Sparks can be bought here.")
    payments_note: str

    @classmethod
    def of(cls, settings: SparksSettings) -> PricingPublic:
        return cls(
            enabled=settings.enabled,
            lines=[PriceLinePublic.model_validate(p) for p in pricing.price_list(settings)],
            spark_price_cents=settings.spark_price_cents,
            currency=settings.currency,
            price_unit=PRICE_UNIT,
            price_unit_money=pricing.money(settings, PRICE_UNIT),
            daily_allowance=settings.daily_allowance,
            daily_cap=settings.daily_cap,
            payments=False,
            payments_note=PAYMENTS_NOTE,
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
