"""Content settings: explicit content, for verified adults who turn it on."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from afterdark.safety import age, content
from afterdark.web.deps import CurrentUser, SessionDep

router = APIRouter(prefix="/api/v1/me", tags=["content"])


class ContentSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    explicit: bool


class ContentStatus(ContentSettings):
    age_verified: bool


@router.get("/content")
async def get_content(user: CurrentUser, session: SessionDep) -> ContentStatus:
    """Whether explicit content is on, and whether the age check that unlocks it passed."""
    verified = await age.is_verified(session, user)
    return ContentStatus(explicit=user.explicit_opt_in and verified, age_verified=verified)


@router.put("/content")
async def put_content(
    data: ContentSettings, user: CurrentUser, session: SessionDep
) -> ContentStatus:
    """Turn explicit content on (403 before a passed age check) or off."""
    enabled = await content.set_explicit(session, user, data.explicit)
    return ContentStatus(explicit=enabled, age_verified=await age.is_verified(session, user))
