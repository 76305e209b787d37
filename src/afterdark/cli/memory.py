"""``afterdark memory``: what a character remembers about an account, and where it came from."""

from __future__ import annotations

import json
from typing import Any

import typer

from afterdark.accounts import service as accounts_service
from afterdark.cli.common import database, fail, run, settings_or_exit
from afterdark.memory import service
from afterdark.memory.context import MemoryContext
from afterdark.memory.models import CATEGORIES, KINDS
from afterdark.memory.schemas import publics, source_public

app = typer.Typer(help="See, edit and delete what characters remember.", no_args_is_help=True)


def _one_line(text: str) -> str:
    return " ".join(text.split())


@app.command("list")
def list_memories(
    email: str = typer.Argument(..., help="The account's email."),
    character_id: int = typer.Argument(..., help="The character (its shared memories come too)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list."),
    kind: str = typer.Option("", "--kind", help=f"Only this kind: {', '.join(KINDS)}."),
) -> None:
    """List a character's memories of an account, pinned first, newest first."""
    settings = settings_or_exit()

    async def main() -> list[dict[str, Any]]:
        async with database(settings) as db, db.session() as session:
            user = await accounts_service.require_user_by_email(session, email)
            rows = await service.list_memories(session, user, character_id, kind=kind or None)
            return [m.model_dump(mode="json") for m in await publics(session, rows)]

    rows = run(main)
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        flags = ",".join(f for f in ("pinned", "shared") if row[f])
        typer.echo(
            f"{row['id']}\t{row['kind']}\t{row['category']}\t{flags or '-'}\t"
            f"{_one_line(row['text'])}"
        )


@app.command("show")
def show(
    email: str = typer.Argument(..., help="The account's email."),
    memory_id: int = typer.Argument(..., help="The memory."),
) -> None:
    """Show one memory: its text, its fields and the messages it came from."""
    settings = settings_or_exit()

    async def main() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        async with database(settings) as db, db.session() as session:
            user = await accounts_service.require_user_by_email(session, email)
            memory = await service.get_memory(session, user, memory_id)
            [public] = await publics(session, [memory])
            found = await service.sources(session, user, memory)
            return public.model_dump(mode="json"), [
                source_public(s).model_dump(mode="json") for s in found
            ]

    memory, sources = run(main)
    typer.echo(memory["text"])
    typer.echo("")
    for key, value in memory.items():
        if key != "text":
            typer.echo(f"{key}: {'-' if value is None else value}")
    typer.echo("")
    if not sources:
        typer.echo("No source messages: it was written by hand, or they were deleted.")
    for source in sources:
        typer.echo(
            f"message {source['message_id']} in conversation {source['conversation_id']}, "
            f"{source['role']}, {source['created_at']}: {_one_line(source['content'])}"
        )


@app.command("edit")
def edit(
    email: str = typer.Argument(..., help="The account's email."),
    memory_id: int = typer.Argument(..., help="The memory."),
    text: str | None = typer.Option(None, "--text", help="New text."),
    category: str | None = typer.Option(
        None, "--category", help=f"One of: {', '.join(CATEGORIES)}."
    ),
    pinned: bool | None = typer.Option(
        None, "--pin/--unpin", help="Pinned memories go into every reply."
    ),
    shared: bool | None = typer.Option(
        None, "--shared/--not-shared", help="Used with every character, or only its own."
    ),
) -> None:
    """Change a memory's text, category, pin or sharing."""
    if text is None and category is None and pinned is None and shared is None:
        raise fail("nothing to change: pass --text, --category, --pin/--unpin or --shared.", 2)
    settings = settings_or_exit()

    async def main() -> dict[str, Any]:
        async with database(settings) as db, db.session() as session:
            assert db.keyring is not None  # prepare_database always opens the users' keyring
            user = await accounts_service.require_user_by_email(session, email)
            memory = await service.edit_memory(
                session,
                MemoryContext(db.keyring, settings.memory),
                user,
                memory_id,
                text=text,
                category=category,
                pinned=pinned,
                shared=shared,
            )
            [public] = await publics(session, [memory])
            await session.commit()
            return public.model_dump(mode="json")

    row = run(main)
    flags = ", ".join(f for f in ("pinned", "shared") if row[f])
    typer.echo(f"memory {row['id']} saved ({row['category']}{', ' + flags if flags else ''})")


@app.command("delete")
def delete(
    email: str = typer.Argument(..., help="The account's email."),
    memory_id: int | None = typer.Argument(None, help="The memory (or pass --all)."),
    character: int | None = typer.Option(
        None, "--character", help="With --all: only what this character remembers."
    ),
    everything: bool = typer.Option(
        False, "--all", help="Delete every memory of the account (or of --character)."
    ),
) -> None:
    """Delete one memory, or all of them (--all, optionally for one --character)."""
    if character is not None and not everything:
        raise fail("--character deletes many memories: add --all to say so.", 2)
    if (memory_id is None) == (not everything):
        raise fail("give a MEMORY_ID or --all (with --character ID for one character).", 2)
    settings = settings_or_exit()

    async def main() -> int:
        async with database(settings) as db, db.session() as session:
            user = await accounts_service.require_user_by_email(session, email)
            if memory_id is not None:
                await service.delete_memory(session, user, memory_id)
                deleted = 1
            else:
                deleted = await service.delete_all(session, user, character)
            await session.commit()
            return deleted

    deleted = run(main)
    typer.echo(f"deleted {deleted} {'memory' if deleted == 1 else 'memories'}")
