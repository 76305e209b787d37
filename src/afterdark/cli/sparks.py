"""``afterdark sparks``: grant, revoke and look at an account's Sparks; reconcile the ledger."""

from __future__ import annotations

import typer

from afterdark.accounts import service as accounts_service
from afterdark.cli.common import database, fail, run, settings_or_exit
from afterdark.credits import reconcile as reconciling
from afterdark.credits.service import Line, Sparks, Statement
from afterdark.store.engine import Database

app = typer.Typer(
    help="Sparks: grants, balances and the ledger's reconciliation.", no_args_is_help=True
)


async def _user_id(db: Database, email: str) -> int:
    async with db.session() as session:
        user = await accounts_service.require_user_by_email(session, email)
        return user.id


def _adjust(email: str, amount: int, reason: str, *, take: bool) -> Statement:
    """Grant (or, with ``take``, revoke) Sparks; the account's statement afterwards."""
    settings = settings_or_exit()

    async def main() -> Statement:
        async with database(settings) as db:
            sparks = Sparks(db, settings.sparks)
            user_id = await _user_id(db, email)
            change = sparks.revoke if take else sparks.grant
            await change(user_id, amount, reason=reason)
            return await sparks.statement(user_id, use=False)

    return run(main)


@app.command("grant")
def grant(
    email: str = typer.Argument(..., help="The account's email."),
    amount: int = typer.Argument(..., help="Sparks to give (1 or more)."),
    reason: str = typer.Option(..., "--reason", help="Why: shown on the user's statement."),
) -> None:
    """Give Sparks to an account's wallet."""
    statement = _adjust(email, amount, reason, take=False)
    typer.echo(f"Granted {amount} Sparks to {email}; balance {statement.available}.")


@app.command("revoke")
def revoke(
    email: str = typer.Argument(..., help="The account's email."),
    amount: int = typer.Argument(..., help="Sparks to take back (free Sparks first)."),
    reason: str = typer.Option(..., "--reason", help="Why: shown on the user's statement."),
) -> None:
    """Take Sparks back from an account; refused when it has fewer."""
    statement = _adjust(email, amount, reason, take=True)
    typer.echo(f"Took {amount} Sparks from {email}; balance {statement.available}.")


@app.command("balance")
def balance(email: str = typer.Argument(..., help="The account's email.")) -> None:
    """Print the account's balance: the Sparks it can spend now, as one integer."""
    settings = settings_or_exit()

    async def main() -> Statement:
        async with database(settings) as db:
            return await Sparks(db, settings.sparks).statement(await _user_id(db, email), use=False)

    typer.echo(str(run(main).available))


@app.command("history")
def history(
    email: str = typer.Argument(..., help="The account's email."),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="Lines, newest first."),
) -> None:
    """An account's statement: grants, purchases and charges with what they were for."""
    settings = settings_or_exit()

    async def main() -> list[Line]:
        async with database(settings) as db:
            return await Sparks(db, settings.sparks).history(await _user_id(db, email), limit=limit)

    for line in run(main):
        amount = f"{line.sparks:+d}" if line.status != "held" else f"({line.held} held)"
        detail = line.note or line.ref or ""
        typer.echo(
            f"{line.at:%Y-%m-%d %H:%M:%S}\t{amount}\t{line.status}\t{line.what}"
            + (f"\t{detail}" if detail else "")
        )


@app.command("reconcile")
def reconcile() -> None:
    """Check every account's totals against its transfers; exit 0 only when nothing drifted."""
    settings = settings_or_exit()

    async def main() -> reconciling.Report:
        async with database(settings) as db:
            return await reconciling.reconcile(db)

    report = run(main)
    typer.echo(
        f"{report.accounts} accounts, {report.transfers} transfers, "
        f"sum of all balances {report.total}"
    )
    for name, amount in sorted(report.system.items()):
        typer.echo(f"  {name}: {amount:+d}")
    for drift in report.drift:
        typer.echo(
            f"DRIFT {drift.name} {drift.field}: stored {drift.stored}, transfers say {drift.summed}"
        )
    for problem in report.problems:
        typer.echo(f"PROBLEM {problem}")
    if not report.ok or report.total != 0:
        raise fail("the ledger does not reconcile")
    typer.echo("OK: no drift")


@app.command("expire")
def expire() -> None:
    """Release Sparks held by replies that never finished, past their expiry."""
    settings = settings_or_exit()

    async def main() -> int:
        async with database(settings) as db:
            return await Sparks(db, settings.sparks).expire_stale()

    typer.echo(f"Released {run(main)} stale holds.")
