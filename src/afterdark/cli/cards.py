"""``afterdark cards``: import, export and inspect character cards (JSON, PNG, CharX)."""

from __future__ import annotations

from pathlib import Path

import typer

from afterdark.accounts import service as accounts_service
from afterdark.characters import exporter, importer
from afterdark.characters import service as characters_service
from afterdark.characters.cards import CardError, read_card_file, read_lorebook
from afterdark.cli.common import database, fail, run, settings_or_exit
from afterdark.errors import AfterdarkError
from afterdark.runtime import file_store, hard_limits
from afterdark.safety.likeness import LikenessGuard

app = typer.Typer(help="Import, export and inspect character cards.", no_args_is_help=True)


@app.command("import")
def import_cards(
    files: list[Path] = typer.Argument(..., help="Card files: .png, .json or .charx."),
    user: str = typer.Option("", help="Owner's email; without it the cards join the catalogue."),
    age: int | None = typer.Option(
        None,
        help="Age (18+) for cards that state none; without it they must get one in the Studio.",
    ),
) -> None:
    """Import cards; prints each new character's id, or 'error: FILE: reason'."""
    settings = settings_or_exit()
    store = file_store(settings)
    likeness = LikenessGuard(settings.likeness)
    limits = hard_limits(settings, likeness)
    try:
        likeness.load_people()
    except ValueError as exc:
        raise fail(str(exc), 2) from None

    async def main() -> int:
        failures = 0
        async with database(settings) as db:
            async with db.session() as session:
                owner = (
                    await accounts_service.require_user_by_email(session, user) if user else None
                )
            for path in files:
                try:
                    data = path.read_bytes()
                    async with db.session() as session:
                        character = await importer.import_card(
                            session,
                            store,
                            owner,
                            data,
                            path.name,
                            default_age=age,
                            likeness=likeness,
                            limits=limits,
                        )
                        await session.commit()
                    typer.echo(character.id)
                except (OSError, AfterdarkError) as exc:
                    failures += 1
                    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                    typer.echo(f"error: {path}: {reason}")
        return failures

    if run(main):
        raise typer.Exit(1)


@app.command("export")
def export_card(
    character_id: int = typer.Argument(..., metavar="ID", help="The character's id."),
    format: str = typer.Option(..., "--format", help="json, png or charx."),
    output: Path = typer.Option(..., "--output", "-o", help="File to write."),
    spec: str = typer.Option(
        "", "--spec", help="v1, v2 or v3 (default: the version it was imported as, else v3)."
    ),
) -> None:
    """Write a character as a card file."""
    if format not in ("json", "png", "charx"):
        raise fail(f"--format must be json, png or charx, not {format!r}.", 2)
    if spec not in ("", "v1", "v2", "v3"):
        raise fail(f"--spec must be v1, v2 or v3, not {spec!r}.", 2)
    settings = settings_or_exit()
    store = file_store(settings)

    async def main() -> exporter.ExportedCard:
        async with database(settings) as db, db.session() as session:
            character = await characters_service.get_any_character(session, character_id)
            return await exporter.export_character(
                session,
                store,
                character,
                format,  # type: ignore[arg-type]
                spec or None,  # type: ignore[arg-type]
            )

    exported = run(main)
    try:
        output.write_bytes(exported.data)
    except OSError as exc:
        raise fail(f"cannot write {output}: {exc.strerror}") from None
    typer.echo(f"wrote {output} ({len(exported.data)} bytes)")


@app.command("inspect")
def inspect(file: Path = typer.Argument(..., help="A card or lorebook file.")) -> None:
    """Print the card's JSON exactly as stored in the file."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise fail(f"{file}: {exc.strerror}") from None
    try:
        text = read_card_file(data, file.name).card.text
    except CardError as card_error:
        try:
            text = read_lorebook(data).text
        except CardError:
            raise fail(f"{file}: {card_error}") from None
    typer.echo(text)
