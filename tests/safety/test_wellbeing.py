"""Usage counted from the user's own messages, in their time zone, with limits and reminders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from afterdark.accounts import service as accounts_service
from afterdark.accounts.models import User
from afterdark.accounts.schemas import UserCreate
from afterdark.characters import catalogue
from afterdark.characters import service as characters_service
from afterdark.chat.models import Conversation, Message
from afterdark.errors import InvalidInputError, RateLimitedError
from afterdark.safety import wellbeing
from afterdark.safety.schemas import WellbeingPublic
from afterdark.store.engine import Database
from afterdark.store.migrate import upgrade
from tests.conftest import fresh_keyring

pytestmark = pytest.mark.xdist_group("postgres")
NOW = datetime(2026, 11, 25, 22, 30, tzinfo=UTC)


def test_sittings_join_messages_less_than_15_minutes_apart() -> None:
    t = NOW
    spans = wellbeing.sittings([t, t + timedelta(minutes=5), t + timedelta(minutes=40)])
    assert spans == [
        (t, t + timedelta(minutes=6)),
        (t + timedelta(minutes=40), t + timedelta(minutes=41)),
    ]


@pytest.fixture
async def setup(database_url: str) -> AsyncIterator[tuple[Database, User, int]]:
    db = Database(database_url, keyring=fresh_keyring())
    await upgrade(db)
    async with db.session() as session:
        await catalogue.seed_catalogue(session)
        user = await accounts_service.create_user(
            session,
            UserCreate(email="kim@example.com", password="x" * 12, birthdate=date(1990, 1, 1)),
            min_age=18,
        )
        character = (await characters_service.list_characters(session, user))[0]
        conversation = Conversation(user_id=user.id, character_id=character.id, title="t")
        session.add(conversation)
        await session.commit()
        yield db, user, conversation.id
    await db.dispose()


async def add_messages(db: Database, conversation_id: int, times: list[datetime]) -> None:
    async with db.session() as session:
        user_id = (await session.get_one(Conversation, conversation_id)).user_id
        for moment in times:
            session.add(
                Message(
                    conversation_id=conversation_id,
                    user_id=user_id,
                    role="user",
                    content="hi",
                    created_at=moment,
                )
            )
            # Replies do not count as the user's activity.
            session.add(
                Message(
                    conversation_id=conversation_id,
                    user_id=user_id,
                    role="assistant",
                    content="yo",
                    created_at=moment,
                )
            )
        await session.commit()


async def test_days_follow_the_users_time_zone(setup: tuple[Database, User, int]) -> None:
    db, user, cid = setup
    # Now is 22:30 UTC on the 25th, already the 26th in Tokyo; the messages at 14:00-14:10 UTC
    # (23:00-23:10 in Tokyo) are today in UTC but yesterday in Tokyo.
    afternoon = NOW.replace(hour=14, minute=0)
    await add_messages(db, cid, [afternoon + timedelta(minutes=m) for m in (0, 5, 10)])
    await add_messages(db, cid, [NOW - timedelta(days=3)])
    await add_messages(db, cid, [NOW - timedelta(days=9)])  # outside the week
    async with db.session() as session:
        utc = await wellbeing.usage(session, user, "UTC", now=NOW)
        tokyo = await wellbeing.usage(session, user, "Asia/Tokyo", now=NOW)
    assert utc.today.day == date(2026, 11, 25)
    assert (utc.today.messages, utc.today.minutes) == (3, 11)
    assert utc.week.messages == 4
    assert len(utc.days) == 7
    assert tokyo.today.day == date(2026, 11, 26)
    assert tokyo.today.messages == 0
    assert tokyo.days[-2].day == date(2026, 11, 25)
    assert (tokyo.days[-2].messages, tokyo.days[-2].minutes) == (3, 11)
    assert tokyo.week.messages == 4
    assert utc.current_session_minutes == 0  # hours since the last message


async def test_nudges_and_hard_stop(setup: tuple[Database, User, int]) -> None:
    db, user, cid = setup
    now = datetime.now(UTC)
    # The limits count the user's own day: pick a time zone where the last 70 minutes fall
    # on one day whatever the hour of the run (just after midnight UTC, Tokyo is mid-morning).
    tz = next(
        name
        for name in ("UTC", "Asia/Tokyo", "America/Los_Angeles")
        if 2 <= now.astimezone(ZoneInfo(name)).hour < 22
    )
    await add_messages(db, cid, [now - timedelta(minutes=m) for m in range(70, -1, -10)])
    async with db.session() as session:
        await wellbeing.update_settings(session, user, WellbeingPublic(timezone=tz))
        report = await wellbeing.usage(session, user)
        assert report.current_session_minutes >= 70
        assert report.nudge is not None
        assert report.nudge.kind == "break"
        assert "break" in report.nudge.message
        assert "plan" not in report.nudge.message.lower()

        await wellbeing.update_settings(
            session, user, WellbeingPublic(daily_messages=5, break_minutes=None, timezone=tz)
        )
        report = await wellbeing.usage(session, user)
        assert report.nudge is not None
        assert report.nudge.kind == "limit_messages"
        await wellbeing.check_limits(session, user)  # only a reminder without hard stop

        await wellbeing.update_settings(
            session, user, WellbeingPublic(daily_messages=5, hard_stop=True, timezone=tz)
        )
        with pytest.raises(RateLimitedError, match="resets at midnight"):
            await wellbeing.check_limits(session, user)

        # Reminders off: no banner, but the hard stop the user asked for still holds.
        await wellbeing.update_settings(
            session,
            user,
            WellbeingPublic(daily_messages=5, hard_stop=True, nudges=False, timezone=tz),
        )
        assert (await wellbeing.usage(session, user)).nudge is None
        with pytest.raises(RateLimitedError, match="8 messages today; you set 5 messages"):
            await wellbeing.check_limits(session, user)

        with pytest.raises(ValidationError, match="time zone"):
            WellbeingPublic(timezone="Mars/Olympus")
        with pytest.raises(InvalidInputError, match="time zone"):
            await wellbeing.usage(session, user, "Mars/Olympus")
