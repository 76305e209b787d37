"""The premium image model: who may use it, and each user's one free premium picture.

A premium picture renders with the backend's premium model (``images.premium_*``) at
``sparks.premium_picture_sparks``. It needs the ``premium_images`` unlock where a plan
offering it is on sale (``credits/unlocks.py``), except a user's first premium picture:
every user has one for free (``users.free_premium_pictures``), no Sparks and no plan
needed. It is taken by a conditional UPDATE in the transaction that records the picture,
so two requests at once cannot both have it, and given back when that picture is not made
(failed, cancelled, withheld), as its Sparks would be.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from afterdark.accounts.models import User
from afterdark.images.models import Picture

UNLOCK = "premium_images"


@dataclass(frozen=True, slots=True)
class PremiumStatus:
    """What a user can do with the premium image model here."""

    offered: bool  # a premium model is set up on this instance
    unlocked: bool  # the user may use it (their plan has it, or it is not on sale)
    free_left: int  # premium pictures the user still has for free
    sparks: int  # what a premium picture costs (0 while Sparks are off)


async def free_left(session: AsyncSession, user_id: int) -> int:
    """The premium pictures ``user_id`` still has for free."""
    left = await session.scalar(select(User.free_premium_pictures).where(User.id == user_id))
    return int(left or 0)


async def take_free(session: AsyncSession, user_id: int) -> bool:
    """Take one of the user's free premium pictures, in the caller's transaction; whether
    there was one. One conditional UPDATE: of two requests at once, only one gets it (the
    other waits for the row and then finds none left)."""
    result = await session.execute(
        update(User)
        .where(User.id == user_id, User.free_premium_pictures > 0)
        .values(free_premium_pictures=User.free_premium_pictures - 1)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def give_back(session: AsyncSession, picture: Picture) -> bool:
    """Give back the free premium picture ``picture`` took (it was not made), in the
    caller's transaction; whether it had one. At most once per picture, however often it
    is called."""
    if not picture.free_premium:
        return False
    result = await session.execute(
        update(Picture)
        .where(Picture.id == picture.id, Picture.free_premium.is_(True))
        .values(free_premium=False)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(picture, "free_premium", False)
    if not getattr(result, "rowcount", 0):
        return False
    await session.execute(
        update(User)
        .where(User.id == picture.user_id)
        .values(free_premium_pictures=User.free_premium_pictures + 1)
        .execution_options(synchronize_session=False)
    )
    return True
