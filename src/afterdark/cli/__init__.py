"""The ``afterdark`` command line: thin commands over the same services as the web app."""

from __future__ import annotations

import typer

from afterdark.cli import cards, characters, chat, config, db, keys, memory, serve, sparks, users

app = typer.Typer(
    name="afterdark",
    help="Afterdark: self-hosted AI-companion roleplay.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve.serve)
app.command("chat")(chat.chat)
app.add_typer(config.app, name="config")
app.add_typer(db.app, name="db")
app.add_typer(users.app, name="users")
app.add_typer(keys.app, name="keys")
app.add_typer(characters.app, name="characters")
app.add_typer(cards.app, name="cards")
app.add_typer(memory.app, name="memory")
app.add_typer(sparks.app, name="sparks")


def main() -> None:
    app()
