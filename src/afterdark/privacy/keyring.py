"""Users' data keys: created on first use, cached unwrapped in memory, rotated, shredded.

Rotation makes a new version for new writes at once; data sealed under older versions
still opens and is re-sealed when next written (lazily). Re-wrapping under a new
key-encryption key rewrites every wrapped key at once and touches no user data.

The work is synchronous on a connection, so the ORM's flush and load events (which run
inside the session's transaction) can seal and open rows; the async methods wrap it for
services. Only keys read from committed rows enter the shared cache: a key made in a
transaction lives in that transaction's ``pending`` map until the transaction is over, so
a rollback can never leave the cache holding a key the database does not have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, delete, event, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from afterdark.kit.clock import utcnow
from afterdark.privacy.cipher import Binding, SealError, key_version, new_key, open_sealed, seal
from afterdark.privacy.models import UserKey
from afterdark.privacy.providers import KeyProvider

PENDING = "afterdark.keys.pending"
"""``session.info`` entry: keys made in the session's open transaction."""


@dataclass(frozen=True)
class DataKey:
    version: int
    key: bytes


@dataclass
class Pending:
    """Keys made in one transaction: (user, version) → key, and each user's newest."""

    keys: dict[tuple[int, int], bytes]
    current: dict[int, int]

    @classmethod
    def of(cls, session: Session) -> Pending:
        pending: Pending | None = session.info.get(PENDING)
        if pending is None:
            pending = session.info[PENDING] = cls({}, {})
            # Once the transaction is over its keys are either in the database or gone.
            event.listen(session, "after_commit", pending.clear)
            event.listen(session, "after_rollback", pending.clear)
        return pending

    def clear(self, *_: Any) -> None:
        self.keys.clear()
        self.current.clear()


def _context(user_id: int, version: int) -> bytes:
    return f"afterdark-user-key|{user_id}|{version}".encode()


_user_keys = cast(Table, UserKey.__table__)


class Keyring:
    """Data keys of every user, behind one key provider."""

    def __init__(self, provider: KeyProvider) -> None:
        self.provider = provider
        self._keys: dict[tuple[int, int], bytes] = {}
        self._current: dict[int, int] = {}

    # --- synchronous core (a connection inside an open transaction) -------------------

    def current_on(self, connection: Connection, pending: Pending, user_id: int) -> DataKey:
        """The key new data is sealed with (made on first use)."""
        version = pending.current.get(user_id) or self._current.get(user_id)
        if version is None:
            row = connection.execute(
                select(UserKey.version, UserKey.wrapped)
                .where(UserKey.user_id == user_id, UserKey.retired_at.is_(None))
                .order_by(UserKey.version.desc())
                .limit(1)
            ).first()
            if row is None:
                return self._create(connection, pending, user_id, 1)
            version = row.version
            self._unwrap(user_id, version, row.wrapped)
            self._current[user_id] = version
        return DataKey(version, self.key_on(connection, pending, user_id, version))

    def key_on(self, connection: Connection, pending: Pending, user_id: int, version: int) -> bytes:
        """A key version of the user's (older ones too, for data not yet re-sealed)."""
        found = pending.keys.get((user_id, version)) or self._keys.get((user_id, version))
        if found is not None:
            return found
        wrapped = connection.scalar(
            select(UserKey.wrapped).where(UserKey.user_id == user_id, UserKey.version == version)
        )
        if wrapped is None:
            raise SealError(f"user {user_id} has no data key version {version} (shredded?)")
        return self._unwrap(user_id, version, wrapped)

    def seal_on(
        self, connection: Connection, pending: Pending, user_id: int, data: bytes, where: Binding
    ) -> bytes:
        current = self.current_on(connection, pending, user_id)
        return seal(current.key, current.version, data, where)

    def open_on(
        self, connection: Connection, pending: Pending, user_id: int, blob: bytes, where: Binding
    ) -> bytes:
        key = self.key_on(connection, pending, user_id, key_version(blob))
        return open_sealed(key, blob, where)

    def in_session(self, session: Session) -> tuple[Connection, Pending]:
        """The connection and pending keys of an ORM session's transaction."""
        return session.connection(), Pending.of(session)

    # --- async API for services --------------------------------------------------------

    async def current(self, session: AsyncSession, user_id: int) -> DataKey:
        return await session.run_sync(lambda s: self.current_on(*self.in_session(s), user_id))

    async def key(self, session: AsyncSession, user_id: int, version: int) -> bytes:
        return await session.run_sync(lambda s: self.key_on(*self.in_session(s), user_id, version))

    async def seal_bytes(
        self, session: AsyncSession, user_id: int, data: bytes, where: Binding
    ) -> bytes:
        current = await self.current(session, user_id)
        return seal(current.key, current.version, data, where)

    async def open_bytes(
        self, session: AsyncSession, user_id: int, blob: bytes, where: Binding
    ) -> bytes:
        key = await self.key(session, user_id, key_version(blob))
        return open_sealed(key, blob, where)

    async def seal_text(
        self, session: AsyncSession, user_id: int, text: str, where: Binding
    ) -> bytes:
        return await self.seal_bytes(session, user_id, text.encode("utf-8"), where)

    async def open_text(
        self, session: AsyncSession, user_id: int, blob: bytes, where: Binding
    ) -> str:
        return (await self.open_bytes(session, user_id, blob, where)).decode("utf-8")

    async def rotate(self, session: AsyncSession, user_id: int) -> int:
        """Start a new key version for the user's new writes; returns it."""

        def work(sync: Session) -> int:
            connection, pending = self.in_session(sync)
            current = self.current_on(connection, pending, user_id)
            connection.execute(
                update(UserKey)
                .where(UserKey.user_id == user_id, UserKey.retired_at.is_(None))
                .values(retired_at=utcnow())
            )
            # Other sessions in this process pick the new version up once it is committed.
            self._current.pop(user_id, None)
            return self._create(connection, pending, user_id, current.version + 1).version

        return await session.run_sync(work)

    async def rewrap_all(self, session: AsyncSession, new_provider: KeyProvider) -> int:
        """Re-wrap every data key under a new key-encryption key; returns how many."""
        count = 0
        for row in await session.scalars(select(UserKey).order_by(UserKey.id)):
            key = self.provider.unwrap(row.wrapped, _context(row.user_id, row.version))
            row.wrapped = new_provider.wrap(key, _context(row.user_id, row.version))
            row.kek_id = new_provider.key_id
            count += 1
        await session.flush()
        self.provider = new_provider
        return count

    async def shred(self, session: AsyncSession, user_id: int) -> None:
        """Destroy every key of the user: whatever was sealed with them is unreadable."""
        await session.execute(delete(UserKey).where(UserKey.user_id == user_id))
        pending: Pending | None = session.sync_session.info.get(PENDING)
        if pending is not None:
            pending.current.pop(user_id, None)
            for made in [k for k in pending.keys if k[0] == user_id]:
                del pending.keys[made]
        self.forget(user_id)

    def forget(self, user_id: int) -> None:
        """Drop the user's keys from memory."""
        self._current.pop(user_id, None)
        for cached in [k for k in self._keys if k[0] == user_id]:
            del self._keys[cached]

    # --- internals ---------------------------------------------------------------------

    def _create(
        self, connection: Connection, pending: Pending, user_id: int, version: int
    ) -> DataKey:
        key = new_key()
        values: dict[str, Any] = {
            "user_id": user_id,
            "version": version,
            "wrapped": self.provider.wrap(key, _context(user_id, version)),
            "kek_id": self.provider.key_id,
            "created_at": utcnow(),
        }
        connection.execute(insert(_user_keys).values(**values))
        pending.keys[(user_id, version)] = key
        pending.current[user_id] = version
        return DataKey(version, key)

    def _unwrap(self, user_id: int, version: int, wrapped: bytes) -> bytes:
        key = self._keys.get((user_id, version))
        if key is None:
            key = self.provider.unwrap(wrapped, _context(user_id, version))
            self._keys[(user_id, version)] = key
        return key
