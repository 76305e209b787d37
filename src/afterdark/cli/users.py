"""``afterdark users``."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import typer

from afterdark.accounts import service as accounts_service
from afterdark.accounts.schemas import UserCreate
from afterdark.cli.common import database, fail, run, settings_or_exit

app = typer.Typer(help="Manage accounts.", no_args_is_help=True)


def _password(from_stdin: bool, prompt: str) -> str:
    """A password from stdin's first line or a hidden, confirmed prompt; 8 characters at least."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt(prompt, hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        raise fail("the password must be at least 8 characters long.", 2)
    return password


@app.command("create")
def create(
    email: str = typer.Argument(..., help="Email address to log in with."),
    birthdate: str = typer.Option(..., help="Date of birth, YYYY-MM-DD (18+ only; not stored)."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from stdin."
    ),
    admin: bool = typer.Option(False, "--admin", help="Make the account an admin."),
    display_name: str = typer.Option("", help="Name shown in the app."),
) -> None:
    """Create an account (and the database, if missing)."""
    settings = settings_or_exit()
    try:
        born = date.fromisoformat(birthdate)
    except ValueError:
        raise fail(f"--birthdate '{birthdate}' is not a date in the form YYYY-MM-DD.", 2) from None
    password = _password(password_stdin, "Password")

    async def main() -> int:
        async with database(settings) as db, db.session() as session:
            data = UserCreate(
                email=email, password=password, birthdate=born, display_name=display_name
            )
            user = await accounts_service.create_user(
                session, data, min_age=settings.security.min_age, is_admin=admin or None
            )
            await session.commit()
            return user.id

    user_id = run(main)
    typer.echo(f"created user {user_id} <{email.strip().lower()}>")


@app.command("list")
def list_users(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List accounts."""
    settings = settings_or_exit()

    async def main() -> list[dict[str, object]]:
        async with database(settings) as db, db.session() as session:
            users = await accounts_service.list_users(session)
            return [
                {
                    "id": u.id,
                    "email": u.email,
                    "is_admin": u.is_admin,
                    "created_at": u.created_at.isoformat(),
                }
                for u in users
            ]

    rows = run(main)
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        typer.echo(f"{row['id']}\t{row['email']}{'  (admin)' if row['is_admin'] else ''}")


@app.command("token")
def token(
    email: str = typer.Argument(..., help="The account's email."),
    name: str = typer.Option("cli", help="A label for the token."),
) -> None:
    """Create an API token for an account and print it (shown once)."""
    settings = settings_or_exit()

    async def main() -> str:
        async with database(settings) as db, db.session() as session:
            user = await accounts_service.require_user_by_email(session, email)
            _, secret = await accounts_service.create_api_token(session, user, name)
            await session.commit()
            return secret

    typer.echo(run(main))


@app.command("reset-link")
def reset_link(
    email: str = typer.Argument(..., help="The account's email."),
    minutes: int = typer.Option(60, min=5, max=10_080, help="How long the link works."),
    base_url: str = typer.Option(
        "", help="Where users reach the app (default: server.public_url, else host and port)."
    ),
) -> None:
    """Print a single-use password reset link for an account (it ends every login on use)."""
    from afterdark.web.admin import reset_url

    settings = settings_or_exit()
    base = base_url or settings.server.public_url
    if not base:
        base = f"http://{settings.server.host}:{settings.server.port}"

    async def main() -> str:
        async with database(settings) as db, db.session() as session:
            user = await accounts_service.require_user_by_email(session, email)
            secret = await accounts_service.create_password_reset(session, user, minutes=minutes)
            await session.commit()
            return secret

    typer.echo(reset_url(base, run(main)))


@app.command("export")
def export(
    email: str = typer.Argument(..., help="The account's email."),
    output: Path = typer.Option(..., "--output", "-o", help="The zip file to write."),
) -> None:
    """Write everything an account has (characters as cards, conversations, settings) to a zip."""
    from afterdark.privacy.export import export_user
    from afterdark.runtime import file_store

    settings = settings_or_exit()

    async def main() -> bytes:
        async with database(settings) as db, db.session() as session:
            user = await accounts_service.require_user_by_email(session, email)
            return await export_user(session, file_store(settings), user)

    data = run(main)
    try:
        output.write_bytes(data)
    except OSError as exc:
        raise fail(f"cannot write {output}: {exc.strerror}") from None
    typer.echo(f"wrote {output} ({len(data)} bytes)")


@app.command("import")
def import_export(
    file: Path = typer.Argument(..., help="A zip made by 'afterdark users export'."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the new password from stdin."
    ),
    email: str = typer.Option("", help="Restore under another email than the exported one."),
) -> None:
    """Restore an exported account here, with a new password."""
    from afterdark.memory.context import MemoryContext
    from afterdark.privacy.restore import import_user
    from afterdark.runtime import file_store

    settings = settings_or_exit()
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise fail(f"{file}: {exc.strerror}") from None
    password = _password(password_stdin, "New password")

    async def main() -> str:
        async with database(settings) as db, db.session() as session:
            assert db.keyring is not None
            user = await import_user(
                session,
                file_store(settings),
                data,
                password=password,
                email=email,
                memory=MemoryContext(db.keyring, settings.memory),
            )
            await session.commit()
            return user.email

    typer.echo(f"restored {run(main)}")


@app.command("delete")
def delete_user(
    email: str = typer.Argument(..., help="The account's email."),
    yes: bool = typer.Option(False, "--yes", help="Confirm: this cannot be undone."),
) -> None:
    """Delete an account and everything it has: keys shredded, rows and files removed, and
    its Stripe customer deleted at Stripe (retried by the server until Stripe has)."""
    from afterdark.credits.payments import customers
    from afterdark.privacy import deletion
    from afterdark.runtime import file_store

    if not yes:
        raise fail("deleting an account cannot be undone: add --yes to confirm.", 2)
    settings = settings_or_exit()

    async def main() -> str | None:
        async with database(settings) as db:
            async with db.session() as session:
                user = await accounts_service.require_user_by_email(session, email)
                customer = await deletion.delete_account(session, file_store(settings), user)
                await session.commit()
            await deletion.scrub(db)
            typer.echo(f"deleted {email}")
            if customer is None:
                return None
            await customers.try_delete_pending(db, settings.payments)
            left = {row.customer_id for row in await customers.pending(db)}
            return customer if customer in left else None

    waiting = run(main)
    if waiting is not None:
        typer.echo(
            f"its Stripe customer {waiting} is not deleted at Stripe yet: the server retries "
            "every 5 minutes while payments are configured"
        )
