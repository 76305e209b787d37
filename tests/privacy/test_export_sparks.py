"""Sparks in the export: the balances and every line travel as a record; restoring the zip
creates no Sparks and moves none."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from afterdark.accounts import service as accounts_service
from afterdark.accounts.models import User
from afterdark.accounts.schemas import UserCreate
from afterdark.config import SparksSettings
from afterdark.credits.models import SparkAccount, SparkTransfer
from afterdark.credits.service import Sparks
from afterdark.privacy.export import export_user
from afterdark.privacy.restore import import_user
from afterdark.store.engine import Database
from afterdark.store.files import FileStore

pytestmark = pytest.mark.xdist_group("postgres")


@pytest.fixture
def sparks(db: Database) -> Sparks:
    return Sparks(db, SparksSettings(enabled=True, daily_allowance=40, daily_cap=40))


async def new_user(db: Database, email: str) -> User:
    async with db.session() as session:
        user = await accounts_service.create_user(
            session,
            UserCreate(email=email, password="x" * 12, birthdate=date(1990, 1, 1)),
            min_age=18,
        )
        await session.commit()
    return user


async def exported(db: Database, files: FileStore, user: User) -> tuple[bytes, dict[str, Any]]:
    async with db.session() as session:
        data = await export_user(session, files, await session.get_one(User, user.id))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return data, json.loads(archive.read("afterdark-export.json"))


async def ledger_rows(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count(SparkTransfer.id))) or 0)


async def test_the_export_holds_the_statement_and_a_restore_gives_no_sparks(
    db: Database, sparks: Sparks, tmp_path: Path
) -> None:
    files = FileStore(tmp_path / "files")
    kim = await new_user(db, "kim@example.com")
    await sparks.statement(kim.id)  # today's 40 free
    await sparks.grant(kim.id, 25, reason="Thanks for the bug report")
    await sparks.spend(kim.id, 3, op="test:spend", action="chat.reply")

    data, manifest = await exported(db, files, kim)
    record = manifest["sparks"]
    assert (record["free"], record["wallet"], record["held"]) == (37, 25, 0)
    assert [(x["kind"], x["sparks"], x["status"]) for x in record["lines"]] == [
        ("spend", -3, "posted"),
        ("grant", 25, "posted"),
        ("daily", 40, "posted"),
    ]
    assert record["lines"][1]["note"] == "Thanks for the bug report"
    assert "restoring the file gives none" in record["note"]
    assert "not_included" not in manifest  # everything the account has is in it

    before = await ledger_rows(db)
    async with db.session() as session:
        twin = await import_user(session, files, data, password="y" * 12, email="twin@example.com")
        await session.commit()
    mine = await sparks.statement(kim.id, use=False)
    theirs = await sparks.statement(twin.id, use=False)
    assert (mine.free, mine.wallet, mine.held) == (37, 25, 0)
    assert (theirs.free, theirs.wallet, theirs.held) == (0, 0, 0)
    assert await sparks.history(twin.id) == []
    assert await ledger_rows(db) == before


async def test_exporting_someone_without_sparks_opens_no_accounts(
    db: Database, tmp_path: Path
) -> None:
    ned = await new_user(db, "ned@example.com")
    _, manifest = await exported(db, FileStore(tmp_path / "files"), ned)
    assert {k: manifest["sparks"][k] for k in ("free", "wallet", "held", "lines")} == {
        "free": 0,
        "wallet": 0,
        "held": 0,
        "lines": [],
    }
    async with db.session() as session:
        opened = await session.scalar(
            select(func.count(SparkAccount.id)).where(SparkAccount.user_id == ned.id)
        )
    assert opened == 0
