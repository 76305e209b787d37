"""``afterdark keys``: rotate users' data keys and re-wrap them under a new KEK."""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy import select

from afterdark.accounts import service as accounts_service
from afterdark.accounts.models import User
from afterdark.cli.common import database, fail, run, settings_or_exit
from afterdark.config import ConfigError
from afterdark.privacy.providers import LocalKeyProvider, decode_kek

app = typer.Typer(help="Users' data keys and the key-encryption key.", no_args_is_help=True)


@app.command("rotate")
def rotate(
    email: str = typer.Argument(None, help="The account whose key to rotate."),
    every: bool = typer.Option(False, "--all", help="Rotate every account's key."),
) -> None:
    """Start a new data key for new writes; older data is re-sealed when next written."""
    if bool(email) == every:
        raise fail("name one account's e-mail, or pass --all.", 2)
    settings = settings_or_exit()

    async def main() -> list[tuple[str, int]]:
        async with database(settings) as db:
            assert db.keyring is not None
            async with db.session() as session:
                if every:
                    users = list(await session.scalars(select(User).order_by(User.id)))
                else:
                    users = [await accounts_service.require_user_by_email(session, email)]
                done = [(u.email, await db.keyring.rotate(session, u.id)) for u in users]
                await session.commit()
            return done

    rotated = run(main)
    for address, version in rotated:
        typer.echo(f"{address}: data key version {version}")


@app.command("rewrap")
def rewrap(
    new_kek_file: Path = typer.Option(
        ..., "--new-kek-file", help="The new key-encryption key: base64 of 32 random bytes."
    ),
) -> None:
    """Re-wrap every data key under a new key-encryption key, in one transaction.

    User data is not touched. Afterwards point AFTERDARK_PRIVACY__KEK_FILE at the new file
    and destroy the old key: remnants of the old wrapped keys (backups, free pages, WAL)
    then open nothing.
    """
    settings = settings_or_exit()
    try:
        new_provider = LocalKeyProvider(decode_kek(new_kek_file.read_text(), str(new_kek_file)))
    except OSError as exc:
        raise fail(f"cannot read {new_kek_file}: {exc.strerror}", 2) from None
    except ConfigError as exc:
        raise fail(str(exc), 2) from None

    async def main() -> int:
        async with database(settings) as db:
            assert db.keyring is not None
            if db.keyring.provider.key_id == new_provider.key_id:
                raise fail("the new key-encryption key is the one in use.", 2)
            async with db.session() as session:
                count = await db.keyring.rewrap_all(session, new_provider)
                await session.commit()
            return count

    count = run(main)
    typer.echo(f"re-wrapped {count} data keys under {new_kek_file}")
    typer.echo(
        f"now set AFTERDARK_PRIVACY__KEK_FILE={new_kek_file} and destroy the old key "
        "(the instance cannot open its data with the old one any more)"
    )
