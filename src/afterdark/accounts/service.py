"""Account use cases: sign-up, login sessions, API tokens, personas."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts.age import check_adult
from afterdark.accounts.models import ApiToken, AuthSession, PasswordReset, Persona, User
from afterdark.accounts.passwords import hash_password, verify_password
from afterdark.accounts.schemas import UserCreate
from afterdark.errors import AuthenticationError, ConflictError, InvalidInputError, NotFoundError
from afterdark.kit import secrets
from afterdark.kit.clock import as_utc, utcnow

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
API_TOKEN_PREFIX = "adk_"


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise InvalidInputError(f"'{email}' is not an email address.")
    return email


async def create_user(
    session: AsyncSession,
    data: UserCreate,
    *,
    min_age: int,
    is_admin: bool | None = None,
    today: date | None = None,
) -> User:
    """Create an account; the first account of an instance becomes its admin."""
    email = normalise_email(data.email)
    check_adult(data.birthdate, today=today or utcnow().date(), min_age=min_age)
    if await get_user_by_email(session, email):
        raise ConflictError(f"An account for {email} already exists.")
    if is_admin is None:
        is_admin = (await session.scalar(select(func.count(User.id)))) == 0
    user = User(
        email=email,
        password_hash=await hash_password(data.password),
        display_name=data.display_name.strip(),
        is_admin=is_admin,
        age_checked_at=utcnow(),
        age_check_method="self_declared_birthdate",
    )
    session.add(user)
    await session.flush()
    name = user.display_name or email.split("@", 1)[0]
    session.add(Persona(user_id=user.id, name=name[:100], description=""))
    await session.flush()
    return user


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email.strip().lower()))


async def require_user_by_email(session: AsyncSession, email: str) -> User:
    user = await get_user_by_email(session, email)
    if user is None:
        raise NotFoundError(f"No account with email {email.strip().lower()}.")
    return user


async def list_users(session: AsyncSession) -> list[User]:
    return list(await session.scalars(select(User).order_by(User.id)))


async def authenticate(session: AsyncSession, email: str, password: str) -> User:
    """The user with these credentials, or AuthenticationError (same message either way)."""
    user = await get_user_by_email(session, email)
    ok = await verify_password(user.password_hash if user else None, password)
    if user is None or not ok:
        raise AuthenticationError("Wrong email or password.")
    return user


async def start_session(
    session: AsyncSession, user: User, *, days: int, user_agent: str = ""
) -> str:
    """Open a login session; returns the secret cookie value."""
    token = secrets.new_token()
    session.add(
        AuthSession(
            user_id=user.id,
            token_digest=secrets.digest(token),
            expires_at=utcnow() + timedelta(days=days),
            user_agent=user_agent[:300],
        )
    )
    await session.flush()
    return token


async def user_for_session_token(session: AsyncSession, token: str) -> User | None:
    row = (
        await session.execute(
            select(User, AuthSession.expires_at)
            .join(AuthSession, AuthSession.user_id == User.id)
            .where(AuthSession.token_digest == secrets.digest(token))
        )
    ).first()
    if row is None or as_utc(row[1]) < utcnow():
        return None
    return row[0]


async def end_session(session: AsyncSession, token: str) -> None:
    await session.execute(
        delete(AuthSession).where(AuthSession.token_digest == secrets.digest(token))
    )


async def list_sessions(session: AsyncSession, user: User) -> list[AuthSession]:
    """The user's unexpired login sessions, newest first."""
    rows = await session.scalars(
        select(AuthSession)
        .where(AuthSession.user_id == user.id, AuthSession.expires_at > utcnow())
        .order_by(AuthSession.created_at.desc(), AuthSession.id.desc())
    )
    return list(rows)


def is_session_token(row: AuthSession, token: str | None) -> bool:
    return token is not None and secrets.equal(row.token_digest, secrets.digest(token))


async def revoke_session(session: AsyncSession, user: User, session_id: int) -> None:
    """Log one of the user's sessions out (another device, or this one)."""
    result = await session.execute(
        delete(AuthSession).where(AuthSession.id == session_id, AuthSession.user_id == user.id)
    )
    if not getattr(result, "rowcount", 0):
        raise NotFoundError(f"Session {session_id} does not exist.")


async def revoke_other_sessions(session: AsyncSession, user: User, keep_token: str | None) -> int:
    """Log out everywhere but here; returns how many sessions ended."""
    statement = delete(AuthSession).where(AuthSession.user_id == user.id)
    if keep_token:
        statement = statement.where(AuthSession.token_digest != secrets.digest(keep_token))
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


RESET_PREFIX = "adr_"


async def create_password_reset(session: AsyncSession, user: User, *, minutes: int = 60) -> str:
    """A single-use reset secret for the user, valid ``minutes``; earlier unused ones end."""
    await session.execute(
        delete(PasswordReset).where(
            PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None)
        )
    )
    secret = secrets.new_token(RESET_PREFIX)
    session.add(
        PasswordReset(
            user_id=user.id,
            token_digest=secrets.digest(secret),
            expires_at=utcnow() + timedelta(minutes=minutes),
        )
    )
    await session.flush()
    return secret


async def reset_password(session: AsyncSession, secret: str, password: str) -> User:
    """Set a new password with a reset secret: once, before it expires; every login ends."""
    row = await session.scalar(
        select(PasswordReset).where(PasswordReset.token_digest == secrets.digest(secret))
    )
    if row is None or row.used_at is not None or as_utc(row.expires_at) < utcnow():
        raise InvalidInputError(
            "This reset link is not valid: it was used already, has expired, or was replaced "
            "by a newer one. Ask for a new link."
        )
    user = await session.get(User, row.user_id)
    if user is None:
        raise InvalidInputError("This reset link is not valid.")
    row.used_at = utcnow()
    user.password_hash = await hash_password(password)
    await session.execute(delete(AuthSession).where(AuthSession.user_id == user.id))
    await session.flush()
    return user


async def create_api_token(session: AsyncSession, user: User, name: str) -> tuple[ApiToken, str]:
    """A new bearer token; the secret is returned once and only its digest is kept."""
    secret = secrets.new_token(API_TOKEN_PREFIX)
    token = ApiToken(user_id=user.id, name=name.strip(), token_digest=secrets.digest(secret))
    session.add(token)
    await session.flush()
    return token, secret


async def list_api_tokens(session: AsyncSession, user: User) -> list[ApiToken]:
    query = select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
    return list(await session.scalars(query))


async def delete_api_token(session: AsyncSession, user: User, token_id: int) -> None:
    result = await session.execute(
        delete(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFoundError(f"API token {token_id} does not exist.")


async def user_for_api_token(session: AsyncSession, secret: str) -> User | None:
    digest = secrets.digest(secret)
    row = (
        await session.execute(
            select(User, ApiToken.id, ApiToken.last_used_at)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.token_digest == digest)
        )
    ).first()
    if row is None:
        return None
    now = utcnow()
    # Recorded once a minute at most: a write per request would serialise SQLite.
    if row[2] is None or now - as_utc(row[2]) > timedelta(minutes=1):
        await session.execute(
            update(ApiToken).where(ApiToken.id == row[1]).values(last_used_at=now)
        )
    return row[0]


async def get_persona(session: AsyncSession, user: User) -> Persona:
    persona = await session.scalar(select(Persona).where(Persona.user_id == user.id))
    if persona is None:
        persona = Persona(user_id=user.id, name=user.display_name or "User", description="")
        session.add(persona)
        await session.flush()
    return persona


async def update_persona(session: AsyncSession, user: User, name: str, description: str) -> Persona:
    persona = await get_persona(session, user)
    persona.name = name.strip() or persona.name
    persona.description = description
    await session.flush()
    return persona
