"""Account routes: sign-up, login, logout, me, persona, API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from afterdark.accounts import service as accounts_service
from afterdark.accounts.models import User
from afterdark.accounts.schemas import (
    LoginRequest,
    PasswordResetRequest,
    PersonaPublic,
    SessionPublic,
    TokenCreate,
    TokenPublic,
    UserCreate,
    UserPublic,
)
from afterdark.errors import PermissionDeniedError
from afterdark.runtime import Runtime
from afterdark.safety.ratelimit import Rule, enforce
from afterdark.web.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    CurrentUser,
    Id,
    RuntimeDep,
    SessionDep,
    csrf_token_for,
)

router = APIRouter(prefix="/api/v1", tags=["accounts"])


def _set_login_cookies(response: Response, runtime: Runtime, token: str) -> None:
    max_age = runtime.settings.security.session_days * 86400
    secure = runtime.settings.secure_cookies
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="lax", secure=secure
    )
    response.set_cookie(
        CSRF_COOKIE,
        csrf_token_for(runtime, token),
        max_age=max_age,
        httponly=False,
        samesite="lax",
        secure=secure,
    )


async def _login(
    session: SessionDep, runtime: Runtime, request: Request, response: Response, user: User
) -> UserPublic:
    token = await accounts_service.start_session(
        session,
        user,
        days=runtime.settings.security.session_days,
        user_agent=request.headers.get("user-agent", ""),
    )
    _set_login_cookies(response, runtime, token)
    return UserPublic.model_validate(user)


@router.post("/auth/signup", status_code=201)
async def signup(
    data: UserCreate, request: Request, response: Response, session: SessionDep, runtime: RuntimeDep
) -> UserPublic:
    """Create an account (18+ only) and log in."""
    if not runtime.settings.security.open_signup:
        raise PermissionDeniedError("Sign-up is closed on this instance; ask its admin.")
    rule = Rule(runtime.settings.security.signups_per_hour, 3600)
    enforce(runtime.limiter, f"signup:{_client(request)}", rule, "sign-ups from this address")
    user = await accounts_service.create_user(
        session, data, min_age=runtime.settings.security.min_age
    )
    return await _login(session, runtime, request, response, user)


@router.post("/auth/login")
async def login(
    data: LoginRequest,
    request: Request,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
) -> UserPublic:
    # Per account against guessing one password, per address against spraying many.
    attempts = runtime.settings.security.login_attempts
    email = accounts_service.normalise_email(data.email)
    enforce(runtime.limiter, f"login:{email}", Rule(attempts, 900), "login attempts")
    enforce(
        runtime.limiter, f"login-ip:{_client(request)}", Rule(attempts * 5, 900), "login attempts"
    )
    user = await accounts_service.authenticate(session, data.email, data.password)
    return await _login(session, runtime, request, response, user)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/auth/reset")
async def reset_password(
    data: PasswordResetRequest,
    request: Request,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
) -> UserPublic:
    """Set a new password with a single-use reset link's token; logs in here, out elsewhere."""
    attempts = runtime.settings.security.login_attempts
    enforce(runtime.limiter, f"reset-ip:{_client(request)}", Rule(attempts, 900), "reset attempts")
    user = await accounts_service.reset_password(session, data.token, data.password)
    return await _login(session, runtime, request, response, user)


@router.post("/auth/logout", status_code=204)
async def logout(request: Request, response: Response, session: SessionDep) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await accounts_service.end_session(session, token)
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)


@router.get("/me")
async def me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


@router.get("/me/persona")
async def get_persona(user: CurrentUser, session: SessionDep) -> PersonaPublic:
    return PersonaPublic.model_validate(await accounts_service.get_persona(session, user))


@router.put("/me/persona")
async def put_persona(data: PersonaPublic, user: CurrentUser, session: SessionDep) -> PersonaPublic:
    persona = await accounts_service.update_persona(session, user, data.name, data.description)
    return PersonaPublic.model_validate(persona)


@router.get("/tokens")
async def list_tokens(user: CurrentUser, session: SessionDep) -> list[TokenPublic]:
    tokens = await accounts_service.list_api_tokens(session, user)
    return [TokenPublic.model_validate(t) for t in tokens]


@router.post("/tokens", status_code=201)
async def create_token(data: TokenCreate, user: CurrentUser, session: SessionDep) -> TokenPublic:
    token, secret = await accounts_service.create_api_token(session, user, data.name)
    return TokenPublic.model_validate(token).model_copy(update={"token": secret})


@router.delete("/tokens/{token_id}", status_code=204)
async def delete_token(token_id: Id, user: CurrentUser, session: SessionDep) -> None:
    await accounts_service.delete_api_token(session, user, token_id)


@router.get("/sessions")
async def list_sessions(
    request: Request, user: CurrentUser, session: SessionDep
) -> list[SessionPublic]:
    """Where the account is logged in."""
    token = request.cookies.get(SESSION_COOKIE)
    return [
        SessionPublic(
            id=row.id,
            created_at=row.created_at,
            expires_at=row.expires_at,
            user_agent=row.user_agent,
            current=accounts_service.is_session_token(row, token),
        )
        for row in await accounts_service.list_sessions(session, user)
    ]


@router.delete("/sessions/{session_id}", status_code=204)
async def revoke_session(session_id: Id, user: CurrentUser, session: SessionDep) -> None:
    await accounts_service.revoke_session(session, user, session_id)


@router.post("/sessions/revoke-others")
async def revoke_other_sessions(
    request: Request, user: CurrentUser, session: SessionDep
) -> dict[str, int]:
    """Log out every other device; this one stays logged in."""
    ended = await accounts_service.revoke_other_sessions(
        session, user, request.cookies.get(SESSION_COOKIE)
    )
    return {"ended": ended}
