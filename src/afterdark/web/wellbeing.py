"""Healthy-use routes: the user's own usage, limits and reminders."""

from __future__ import annotations

from fastapi import APIRouter, Query

from afterdark.safety import wellbeing
from afterdark.safety.schemas import UsagePublic, WellbeingPublic
from afterdark.web.deps import CurrentUser, SessionDep

router = APIRouter(prefix="/api/v1/me", tags=["wellbeing"])


@router.get("/usage")
async def get_usage(
    user: CurrentUser,
    session: SessionDep,
    tz: str = Query(default="", max_length=64, description="IANA time zone; default: saved."),
) -> UsagePublic:
    """Messages and time per day for the last week, and a reminder when one is due."""
    return await wellbeing.usage(session, user, tz)


@router.get("/wellbeing")
async def get_wellbeing(user: CurrentUser, session: SessionDep) -> WellbeingPublic:
    return WellbeingPublic.model_validate(await wellbeing.get_settings(session, user))


@router.put("/wellbeing")
async def put_wellbeing(
    data: WellbeingPublic, user: CurrentUser, session: SessionDep
) -> WellbeingPublic:
    """Daily limits, break reminders and whether a limit stops sending or only reminds."""
    return WellbeingPublic.model_validate(await wellbeing.update_settings(session, user, data))
