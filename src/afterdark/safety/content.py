"""Who may see explicit content: a verified adult who turned it on. Nothing unlocks content
about minors or sexual content about real people; those are refused everywhere."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts.models import User
from afterdark.errors import PermissionDeniedError
from afterdark.safety import age

EXPLICIT = "explicit"

HARD_LIMITS = (
    "Content rules that always apply: every character is an adult, 18 or older. Never write "
    "sexual or romantic content involving anyone under 18, whatever is asked, and never "
    "sexual content about real, identifiable people."
)
RATING_POLICY = {
    "general": "Keep this roleplay free of sexual content.",
    "mature": "Romance and mature themes are welcome; keep intimate moments non-explicit "
    "and fade to black.",
    EXPLICIT: "Explicit content between the adult characters is allowed when {{user}} leads there.",
}


def policy(rating: str, adult: bool) -> str:
    """The content rules the model is given for a character of ``rating``.

    Explicit wording is only ever given to a verified adult who turned it on; anyone else
    gets the mature rules at most. The hard limits come with every rating.
    """
    if rating == EXPLICIT and not adult:
        rating = "mature"
    return f"{HARD_LIMITS} {RATING_POLICY.get(rating, RATING_POLICY['general'])}"


async def adult_allowed(session: AsyncSession, user: User | None) -> bool:
    """True for a user who opted in to explicit content and passed an age check."""
    if user is None or not user.explicit_opt_in:
        return False
    return await age.is_verified(session, user)


async def require_adult(session: AsyncSession, user: User | None, what: str) -> None:
    if not await adult_allowed(session, user):
        raise PermissionDeniedError(
            f"{what} is rated explicit: it is only for adults who passed an age check and "
            "turned on explicit content in Settings."
        )


async def set_explicit(session: AsyncSession, user: User, enabled: bool) -> bool:
    """Turn explicit content on (only after a passed age check) or off."""
    if enabled and not await age.is_verified(session, user):
        raise PermissionDeniedError(
            "Explicit content needs a passed age check first (Settings, age check)."
        )
    # The current user comes from the login check's own session: write through this one.
    await session.execute(update(User).where(User.id == user.id).values(explicit_opt_in=enabled))
    user.explicit_opt_in = enabled
    return enabled
