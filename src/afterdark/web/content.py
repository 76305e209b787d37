"""Content settings: explicit content, for verified adults who turn it on (and, where a plan
that includes it is on sale, have that plan)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts.models import User
from afterdark.safety import content
from afterdark.web.deps import CurrentUser, SessionDep

router = APIRouter(prefix="/api/v1/me", tags=["content"])


class ContentSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    explicit: bool


class ContentStatus(ContentSettings):
    age_verified: bool
    plan_needed: bool = Field(
        description="Explicit content comes with a plan here and the user has none that "
        "includes it (false while payments are off or no plan on sale offers it)."
    )


async def _status(session: AsyncSession, user: User) -> ContentStatus:
    access = await content.explicit_access(session, user)
    return ContentStatus(
        explicit=access.allowed, age_verified=access.age_verified, plan_needed=access.plan_needed
    )


@router.get("/content")
async def get_content(user: CurrentUser, session: SessionDep) -> ContentStatus:
    """Whether explicit content is on, whether the age check that unlocks it passed, and
    whether a plan is needed for it."""
    return await _status(session, user)


@router.put("/content")
async def put_content(
    data: ContentSettings, user: CurrentUser, session: SessionDep
) -> ContentStatus:
    """Turn explicit content on (403 before a passed age check, 402 without the plan it
    comes with, where there is one) or off."""
    await content.set_explicit(session, user, data.explicit)
    return await _status(session, user)
