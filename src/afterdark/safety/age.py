"""Age assurance for adult content: a pluggable check with start, redirect and a signed
callback; only the outcome is stored (method, time, jurisdiction).

Providers:

* ``signed``: an external verifier (a KYC service behind the operator's adapter). The user
  is sent to ``age.signed_url`` with a single-use ``state`` and a ``return_to`` address; the
  verifier sends them back to ``/api/v1/age/callback`` with ``state``, ``result``
  (passed|failed), ``method``, ``jurisdiction``, ``ts`` (Unix seconds) and ``sig``, the hex
  HMAC-SHA256 under ``age.signed_secret`` of ``state|result|method|jurisdiction|ts``.
* ``self_declaration``: the user states they are an adult. Allowed only while the instance
  has a single account (a personal install), never on a shared one.
* ``none``: adult content stays locked.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from urllib.parse import urlencode

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts.models import User
from afterdark.config import AgeSettings
from afterdark.errors import InvalidInputError, PermissionDeniedError
from afterdark.kit import secrets
from afterdark.kit.clock import utcnow
from afterdark.safety.models import AgeCheck

FIELDS = ("state", "result", "method", "jurisdiction", "ts")


def signature(secret: str, params: Mapping[str, str]) -> str:
    """What the verifier signs: the outcome fields joined by '|'."""
    message = "|".join(params.get(name, "") for name in FIELDS).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


async def latest(session: AsyncSession, user: User) -> AgeCheck | None:
    """The user's newest finished check."""
    return await session.scalar(
        select(AgeCheck)
        .where(AgeCheck.user_id == user.id, AgeCheck.status != "pending")
        .order_by(AgeCheck.checked_at.desc(), AgeCheck.id.desc())
    )


async def is_verified(session: AsyncSession, user: User) -> bool:
    check = await latest(session, user)
    return check is not None and check.status == "passed"


async def start(session: AsyncSession, settings: AgeSettings, user: User, callback_url: str) -> str:
    """Begin a check; returns where to send the user next."""
    if settings.provider == "none":
        raise PermissionDeniedError(
            "This instance has no age check set up, so adult content stays locked. "
            "Its admin can configure one (AFTERDARK_AGE__PROVIDER)."
        )
    if settings.provider == "self_declaration":
        users = await session.scalar(select(func.count(User.id)))
        if users != 1:
            raise PermissionDeniedError(
                "Self-declaration is only for a single-user install; this instance has "
                f"{users} accounts, so it needs a real age check."
            )
        session.add(
            AgeCheck(
                user_id=user.id,
                provider="self_declaration",
                status="passed",
                method="self_declaration",
                checked_at=utcnow(),
            )
        )
        await session.flush()
        return callback_url.split("/api/", 1)[0] + "/settings#age"
    if not settings.signed_url or settings.signed_secret is None:
        raise PermissionDeniedError("The age check is not fully configured; tell the admin.")
    state = secrets.new_token()
    session.add(AgeCheck(user_id=user.id, provider="signed", state_digest=secrets.digest(state)))
    await session.flush()
    query = urlencode({"state": state, "return_to": callback_url})
    separator = "&" if "?" in settings.signed_url else "?"
    return f"{settings.signed_url}{separator}{query}"


async def finish(
    session: AsyncSession, settings: AgeSettings, params: Mapping[str, str]
) -> AgeCheck:
    """Record a verifier's signed outcome, once; refuse anything forged, stale or replayed."""
    if settings.provider != "signed" or settings.signed_secret is None:
        raise InvalidInputError("No signed age check is configured here.")
    expected = signature(settings.signed_secret.get_secret_value(), params)
    if not hmac.compare_digest(expected, params.get("sig", "")):
        raise InvalidInputError("The age check's answer is not signed by the verifier.")
    try:
        stamp = int(params.get("ts", ""))
    except ValueError:
        raise InvalidInputError("The age check's answer has no valid time.") from None
    if abs(time.time() - stamp) > settings.callback_tolerance:
        raise InvalidInputError("The age check's answer is too old; start the check again.")
    result = params.get("result", "")
    if result not in ("passed", "failed"):
        raise InvalidInputError("The age check's answer has no valid result.")
    check = await session.scalar(
        select(AgeCheck).where(
            AgeCheck.state_digest == secrets.digest(params.get("state", "")),
            AgeCheck.status == "pending",
        )
    )
    if check is None:
        raise InvalidInputError("This age check was already used or never started.")
    check.status = result
    check.method = params.get("method", "")[:40]
    check.jurisdiction = params.get("jurisdiction", "")[:16]
    check.checked_at = utcnow()
    check.state_digest = None
    await session.flush()
    return check
