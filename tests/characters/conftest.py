"""A migrated database (SQLite and PostgreSQL), a file store and an owner for service tests."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from afterdark.accounts import service as accounts_service
from afterdark.accounts.models import User
from afterdark.accounts.schemas import UserCreate
from afterdark.store.engine import Database
from afterdark.store.files import FileStore


@pytest.fixture
def files(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "files")


@pytest.fixture
async def owner(db: Database) -> User:
    async with db.session() as session:
        user = await accounts_service.create_user(
            session,
            UserCreate(email="kim@example.com", password="x" * 12, birthdate=date(1990, 5, 6)),
            min_age=18,
        )
        await session.commit()
        return user
