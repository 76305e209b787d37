"""Request dependencies: runtime, database session, current user (with CSRF check)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from afterdark.accounts import service as accounts_service
from afterdark.accounts.models import User
from afterdark.errors import AuthenticationError, PermissionDeniedError
from afterdark.kit import secrets
from afterdark.runtime import Runtime
from afterdark.safety import wellbeing
from afterdark.safety.ratelimit import Rule, enforce
from afterdark.store.base import MAX_ID

SESSION_COOKIE = "afterdark_session"

# A row id in a path: anything outside a 64-bit id is a 422, not a database overflow.
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
CSRF_COOKIE = "afterdark_csrf"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """A session per request, committed when the handler returns without error."""
    async with runtime.database.session() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


# scope="function": commit before the response is sent. With the default request scope
# FastAPI runs the exit after sending, so a client could be told "created" for a write that
# then fails to commit, or read stale data on its next request.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def csrf_token_for(runtime: Runtime, session_token: str) -> str:
    """The CSRF token bound to a login session (signed double-submit)."""
    return secrets.sign(runtime.secret_key, "csrf:" + session_token)


async def identify(connection: HTTPConnection, runtime: Runtime) -> tuple[User | None, str | None]:
    """The user a request or socket names: by a bearer token (an invalid one is a 401), else
    by the session cookie, which is returned with the user (a caller checks CSRF or Origin)."""
    authorization = connection.headers.get("authorization", "")
    scheme, _, credential = authorization.partition(" ")
    # Its own short session: a streaming response must not hold a connection open.
    async with runtime.database.session() as session:
        if scheme.lower() == "bearer" and credential:
            user = await accounts_service.user_for_api_token(session, credential.strip())
            await session.commit()
            if user is None:
                raise AuthenticationError("The API token is not valid.")
            return user, None
        cookie = connection.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None, None
        return await accounts_service.user_for_session_token(session, cookie), cookie


async def _authenticate(request: Request, runtime: Runtime) -> User | None:
    user, cookie = await identify(request, runtime)
    if user is not None and cookie is not None and request.method in UNSAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not secrets.equal(sent, csrf_token_for(runtime, cookie)):
            raise PermissionDeniedError(
                "Missing or wrong CSRF token: send the afterdark_csrf cookie's value in the "
                "X-CSRF-Token header."
            )
    return user


async def current_user(request: Request, runtime: RuntimeDep) -> User:
    user = await _authenticate(request, runtime)
    if user is None:
        raise AuthenticationError("Log in first, or send an API token as 'Authorization: Bearer'.")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


async def admin_user(user: CurrentUser) -> User:
    if not user.is_admin:
        raise PermissionDeniedError("This needs an admin account.")
    return user


AdminUser = Annotated[User, Depends(admin_user)]


async def limit_generations(user: CurrentUser, runtime: RuntimeDep, session: SessionDep) -> None:
    """Count a reply the user starts: 429 past chat.generations_per_minute, or past a daily
    limit the user set for themselves with hard stop on."""
    rule = Rule(runtime.settings.chat.generations_per_minute, 60)
    enforce(runtime.limiter, f"generate:{user.id}", rule, "replies started")
    await wellbeing.check_limits(session, user)


GenerationAllowance = Depends(limit_generations)
