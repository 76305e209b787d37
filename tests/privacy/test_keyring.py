"""Data keys on SQLite and PostgreSQL: made on first use, rotated, re-wrapped, shredded."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from afterdark.accounts import service as accounts_service
from afterdark.accounts.models import User
from afterdark.accounts.schemas import UserCreate
from afterdark.privacy.cipher import Binding, SealError
from afterdark.privacy.keyring import Keyring
from afterdark.privacy.models import UserKey
from afterdark.privacy.providers import LocalKeyProvider
from afterdark.store.engine import Database

pytestmark = pytest.mark.xdist_group("postgres")
WHERE = Binding(user_id=0, table="notes", row="1", column="body")


async def make_user(db: Database, email: str) -> User:
    async with db.session() as session:
        user = await accounts_service.create_user(
            session,
            UserCreate(email=email, password="x" * 12, birthdate=date(1990, 1, 1)),
            min_age=18,
        )
        await session.commit()
        return user


def keyring_of(db: Database) -> Keyring:
    assert db.keyring is not None
    return db.keyring


def bound(user: User) -> Binding:
    return Binding(user.id, WHERE.table, WHERE.row, WHERE.column)


async def test_keys_are_per_user_and_survive_a_restart(db: Database) -> None:
    ada, eve = await make_user(db, "ada@example.com"), await make_user(db, "eve@example.com")
    ring = keyring_of(db)
    async with db.session() as session:
        blob = await ring.seal_text(session, ada.id, "ada's diary", bound(ada))
        other = await ring.current(session, eve.id)
        mine = await ring.current(session, ada.id)
        await session.commit()
    assert other.key != mine.key
    # A new process (empty cache) unwraps the stored key and opens the text.
    fresh = Keyring(keyring_of(db).provider)
    async with db.session() as session:
        assert await fresh.open_text(session, ada.id, blob, bound(ada)) == "ada's diary"
        with pytest.raises(SealError):
            await fresh.open_text(session, eve.id, blob, bound(eve))
        rows = list(await session.scalars(select(UserKey).order_by(UserKey.user_id)))
    assert [r.user_id for r in rows] == [ada.id, eve.id]
    assert all(mine.key not in r.wrapped for r in rows)


async def test_rotation_keeps_old_data_readable(db: Database) -> None:
    ada = await make_user(db, "ada@example.com")
    ring = keyring_of(db)
    async with db.session() as session:
        old = await ring.seal_text(session, ada.id, "before", bound(ada))
        assert await ring.rotate(session, ada.id) == 2
        new = await ring.seal_text(session, ada.id, "after", bound(ada))
        await session.commit()
    assert old[3:7] != new[3:7]  # different key versions in the header
    fresh = Keyring(keyring_of(db).provider)
    async with db.session() as session:
        assert (await fresh.current(session, ada.id)).version == 2
        assert await fresh.open_text(session, ada.id, old, bound(ada)) == "before"
        assert await fresh.open_text(session, ada.id, new, bound(ada)) == "after"


async def test_rewrap_under_a_new_kek(db: Database) -> None:
    ada = await make_user(db, "ada@example.com")
    ring = keyring_of(db)
    async with db.session() as session:
        blob = await ring.seal_text(session, ada.id, "kept", bound(ada))
        await session.commit()
    old_provider = ring.provider
    new_provider = LocalKeyProvider(b"N" * 32)
    async with db.session() as session:
        assert await ring.rewrap_all(session, new_provider) == 1
        await session.commit()
    async with db.session() as session:
        assert await Keyring(new_provider).open_text(session, ada.id, blob, bound(ada)) == "kept"
        with pytest.raises(SealError):
            await Keyring(old_provider).open_text(session, ada.id, blob, bound(ada))
        row = await session.scalar(select(UserKey))
        assert row is not None
        assert row.kek_id == new_provider.key_id


async def test_shredding_makes_data_unreadable(db: Database) -> None:
    ada = await make_user(db, "ada@example.com")
    ring = keyring_of(db)
    async with db.session() as session:
        blob = await ring.seal_text(session, ada.id, "gone soon", bound(ada))
        await ring.shred(session, ada.id)
        await session.commit()
    async with db.session() as session:
        with pytest.raises(SealError, match="shredded"):
            await ring.open_text(session, ada.id, blob, bound(ada))
        assert await session.scalar(select(UserKey)) is None
