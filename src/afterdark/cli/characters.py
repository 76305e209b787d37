"""``afterdark characters``."""

from __future__ import annotations

import json

import typer

from afterdark.accounts import service as accounts_service
from afterdark.characters import service as characters_service
from afterdark.cli.common import database, run, settings_or_exit

app = typer.Typer(help="Browse characters.", no_args_is_help=True)


@app.command("list")
def list_characters(
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list."),
    user: str = typer.Option("", help="Also list this account's own characters."),
    query: str = typer.Option("", "--query", "-q", help="Filter by text."),
) -> None:
    """List the catalogue (and a user's own characters)."""
    settings = settings_or_exit()

    async def main() -> list[dict[str, object]]:
        async with database(settings) as db, db.session() as session:
            owner = await accounts_service.require_user_by_email(session, user) if user else None
            rows = await characters_service.list_characters(session, owner, query=query)
            return [characters_service.summary(c, owner).model_dump() for c in rows]

    rows = run(main)
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        typer.echo(f"{row['id']}\t{row['name']}\t{row['tagline']}")
