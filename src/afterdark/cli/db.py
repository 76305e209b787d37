"""``afterdark db``."""

from __future__ import annotations

import typer

from afterdark.cli.common import database, run, settings_or_exit

app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Create or migrate the database to the newest schema and load the catalogue."""
    settings = settings_or_exit()

    async def main() -> None:
        async with database(settings):
            pass

    run(main)
    typer.echo(f"database ready: {settings.resolved_database_url.split('@')[-1]}")
