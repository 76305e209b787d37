"""Healthy-use request and response shapes."""

from __future__ import annotations

from datetime import date
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator


class WellbeingPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True, extra="forbid")

    daily_minutes: int | None = Field(default=None, ge=5, le=1440, description="Minutes a day.")
    daily_messages: int | None = Field(default=None, ge=1, le=100_000)
    break_minutes: int | None = Field(
        default=60, ge=10, le=1440, description="Suggest a break after this long without one."
    )
    nudges: bool = True
    hard_stop: bool = Field(default=False, description="Stop sending at a limit, not just remind.")
    timezone: str = Field(default="UTC", max_length=64, description="IANA name, e.g. Europe/Paris.")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone: use an IANA name such as Europe/Paris") from None
        return value


class DayUsage(BaseModel):
    day: date
    messages: int
    minutes: int


class Nudge(BaseModel):
    kind: Literal["limit_minutes", "limit_messages", "break"]
    message: str


class UsagePublic(BaseModel):
    timezone: str
    today: DayUsage
    week: DayUsage = Field(description="The last 7 days together; `day` is the first of them.")
    days: list[DayUsage] = Field(description="Each of the last 7 days, oldest first.")
    current_session_minutes: int
    settings: WellbeingPublic
    nudge: Nudge | None
