"""Healthy-use request and response shapes."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


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
