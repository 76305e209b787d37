"""``afterdark sparks``: grant, revoke, balance, history and reconcile from the command line."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from afterdark.accounts import service as accounts_service
from afterdark.accounts.schemas import UserCreate
from afterdark.cli import app
from afterdark.config import load_settings
from afterdark.credits.models import SparkAccount
from afterdark.runtime import prepare_database
from tests.conftest import PASSWORD

EMAIL = "cli-sparks@example.com"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("AFTERDARK_DATA_DIR", str(tmp_path / "data"))
    asyncio.run(_make_user())
    return CliRunner()


async def _make_user() -> None:
    db = await prepare_database(load_settings())
    try:
        async with db.session() as session:
            await accounts_service.create_user(
                session,
                UserCreate(email=EMAIL, password=PASSWORD, birthdate=date(1990, 1, 1)),
                min_age=18,
            )
            await session.commit()
    finally:
        await db.dispose()


def invoke(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_grant_then_balance_prints_the_integer(runner: CliRunner) -> None:
    assert invoke(runner, "sparks", "balance", EMAIL) == (0, "0\n", "")
    code, out, _ = invoke(runner, "sparks", "grant", EMAIL, "120", "--reason", "beta tester")
    assert code == 0
    assert "Granted 120 Sparks" in out
    assert invoke(runner, "sparks", "balance", EMAIL) == (0, "120\n", "")
    code, out, _ = invoke(runner, "sparks", "revoke", EMAIL, "20", "--reason", "typo")
    assert code == 0
    assert invoke(runner, "sparks", "balance", EMAIL)[1] == "100\n"
    code, out, _ = invoke(runner, "sparks", "history", EMAIL)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2
    assert "-20" in lines[0]
    assert "typo" in lines[0]
    assert "+120" in lines[1]
    assert "beta tester" in lines[1]


def test_errors_name_the_problem(runner: CliRunner) -> None:
    code, _, err = invoke(runner, "sparks", "grant", "nobody@example.com", "5", "--reason", "x")
    assert code != 0
    assert "nobody@example.com" in err
    code, _, err = invoke(runner, "sparks", "grant", EMAIL, "0", "--reason", "x")
    assert code == 1
    assert "between 1 and" in err
    code, _, err = invoke(runner, "sparks", "revoke", EMAIL, "5", "--reason", "x")
    assert code == 1
    assert "Not enough Sparks" in err
    code, _, err = invoke(runner, "sparks", "grant", EMAIL, "many", "--reason", "x")
    assert code == 2  # Typer's usage error names the argument
    code, _, _ = invoke(runner, "sparks", "grant", EMAIL, "5")
    assert code == 2  # --reason is required


def test_reconcile_exits_zero_only_without_drift(runner: CliRunner) -> None:
    invoke(runner, "sparks", "grant", EMAIL, "50", "--reason", "x")
    code, out, _ = invoke(runner, "sparks", "reconcile")
    assert code == 0, out
    assert "OK: no drift" in out
    asyncio.run(_tamper())
    code, out, err = invoke(runner, "sparks", "reconcile")
    assert code == 1
    assert "DRIFT" in out
    assert "credits_posted: stored 57, transfers say 50" in out
    assert "does not reconcile" in err


async def _tamper() -> None:
    db = await prepare_database(load_settings())
    try:
        async with db.engine.begin() as conn:
            await conn.execute(
                update(SparkAccount)
                .where(SparkAccount.bucket == "wallet")
                .values(credits_posted=SparkAccount.credits_posted + 7)
            )
    finally:
        await db.dispose()
