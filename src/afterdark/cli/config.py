"""``afterdark config``."""

from __future__ import annotations

import json

import typer

from afterdark.cli.common import settings_or_exit
from afterdark.config import masked

app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)


@app.command("show")
def show() -> None:
    """Print the effective settings (secrets masked) as JSON."""
    typer.echo(json.dumps(masked(settings_or_exit()), indent=2, sort_keys=True))


@app.command("docs")
def docs() -> None:
    """Print the configuration reference as Markdown."""
    from afterdark.config_reference import settings_reference

    typer.echo(settings_reference(), nl=False)
