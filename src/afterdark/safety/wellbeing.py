"""Healthy use: what a user sees of their own time and messages, limits they set, and gentle
reminders. Nudges are about the user's wellbeing only: they never mention plans or prices.

Time is counted from the user's messages: messages less than ``GAP`` apart belong to one
sitting, which lasts from its first message to its last plus one minute for reading.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts.models import User
from afterdark.chat.models import Conversation, Message
from afterdark.errors import InvalidInputError, RateLimitedError
from afterdark.kit.clock import as_utc, utcnow
from afterdark.safety.models import WellbeingSettings
from afterdark.safety.schemas import DayUsage, Nudge, UsagePublic, WellbeingPublic

GAP = timedelta(minutes=15)
READING = timedelta(minutes=1)
DAYS = 7


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInputError(
            f"Unknown time zone {name!r}: use an IANA name such as Europe/Paris."
        ) from None


async def get_settings(session: AsyncSession, user: User) -> WellbeingSettings:
    row = await session.scalar(
        select(WellbeingSettings).where(WellbeingSettings.user_id == user.id)
    )
    if row is None:
        row = WellbeingSettings(
            user_id=user.id, break_minutes=60, nudges=True, hard_stop=False, timezone="UTC"
        )
        session.add(row)
        await session.flush()
    return row


async def update_settings(
    session: AsyncSession, user: User, data: WellbeingPublic
) -> WellbeingSettings:
    row = await get_settings(session, user)
    zone(data.timezone)
    for field, value in data.model_dump().items():
        setattr(row, field, value)
    await session.flush()
    return row


def sittings(times: list[datetime]) -> list[tuple[datetime, datetime]]:
    """Consecutive messages less than GAP apart, as (start, end) with reading time added."""
    spans: list[tuple[datetime, datetime]] = []
    for moment in sorted(times):
        if spans and moment - spans[-1][1] + READING <= GAP:
            spans[-1] = (spans[-1][0], moment + READING)
        else:
            spans.append((moment, moment + READING))
    return spans


def _minutes(spans: list[tuple[datetime, datetime]]) -> int:
    return round(sum((end - start for start, end in spans), timedelta()).total_seconds() / 60)


async def usage(
    session: AsyncSession, user: User, tz_name: str = "", now: datetime | None = None
) -> UsagePublic:
    """The last seven days of the user's own activity, and a reminder if one is due."""
    stored = await get_settings(session, user)
    tz = zone(tz_name or stored.timezone)
    now = as_utc(now or utcnow())
    today = now.astimezone(tz).date()
    first_day = today - timedelta(days=DAYS - 1)
    since = datetime.combine(first_day, datetime.min.time(), tz)
    rows = await session.scalars(
        select(Message.created_at)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.user_id == user.id, Message.role == "user", Message.created_at >= since)
    )
    times = [as_utc(t) for t in rows]
    by_day: dict[date, list[datetime]] = {first_day + timedelta(days=n): [] for n in range(DAYS)}
    for moment in times:
        local_day = moment.astimezone(tz).date()
        if local_day in by_day:
            by_day[local_day].append(moment)
    days = [
        DayUsage(day=day, messages=len(moments), minutes=_minutes(sittings(moments)))
        for day, moments in by_day.items()
    ]
    spans = sittings(times)
    current = 0
    if spans and now - spans[-1][1] <= GAP:
        current = round((min(now, spans[-1][1]) - spans[-1][0]).total_seconds() / 60)
    settings = WellbeingPublic.model_validate(stored)
    week = DayUsage(
        day=first_day,
        messages=sum(d.messages for d in days),
        minutes=sum(d.minutes for d in days),
    )
    return UsagePublic(
        timezone=tz.key,
        today=days[-1],
        week=week,
        days=days,
        current_session_minutes=current,
        settings=settings,
        nudge=_nudge(settings, days[-1], current),
    )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def limit_reached(settings: WellbeingPublic, today: DayUsage) -> Nudge | None:
    """The daily limit the user set and has reached today, if any."""
    if settings.daily_minutes is not None and today.minutes >= settings.daily_minutes:
        return Nudge(
            kind="limit_minutes",
            message=f"You have chatted {_plural(today.minutes, 'minute')} today; you set "
            f"{_plural(settings.daily_minutes, 'minute')} as your daily limit.",
        )
    if settings.daily_messages is not None and today.messages >= settings.daily_messages:
        return Nudge(
            kind="limit_messages",
            message=f"You have sent {_plural(today.messages, 'message')} today; you set "
            f"{_plural(settings.daily_messages, 'message')} as your daily limit.",
        )
    return None


def _nudge(settings: WellbeingPublic, today: DayUsage, current: int) -> Nudge | None:
    """A reminder to show, unless the user turned reminders off."""
    if not settings.nudges:
        return None
    if reached := limit_reached(settings, today):
        return reached
    if settings.break_minutes is not None and current >= settings.break_minutes:
        return Nudge(
            kind="break",
            message=f"You have been chatting for {_plural(current, 'minute')}. A short break, a "
            "glass of water? The conversation will be here when you come back.",
        )
    return None


async def check_limits(session: AsyncSession, user: User) -> None:
    """With hard stop on, refuse new replies once a daily limit the user set is reached
    (counted in the user's saved time zone, whether or not reminders are on)."""
    # One indexed read on the reply path; nothing is written for users who set nothing.
    settings = await session.scalar(
        select(WellbeingSettings).where(WellbeingSettings.user_id == user.id)
    )
    if (
        settings is None
        or not settings.hard_stop
        or (settings.daily_minutes is None and settings.daily_messages is None)
    ):
        return
    report = await usage(session, user)
    reached = limit_reached(report.settings, report.today)
    if reached is not None:
        tz = zone(settings.timezone)
        local = utcnow().astimezone(tz)
        midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tz)
        wait = (midnight - local).total_seconds()
        raise RateLimitedError(
            f"{reached.message} It resets at midnight; you can change it in Settings.",
            retry_after=max(1, int(wait)),
        )
