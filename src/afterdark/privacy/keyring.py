"""Users' data keys: created on first use, cached unwrapped in memory, rotated, shredded.

Rotation makes a new version for new writes at once; data sealed under older versions
still opens and is re-sealed when next written (lazily). Re-wrapping under a new
key-encryption key rewrites every wrapped key at once and touches no user data.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.kit.clock import utcnow
from afterdark.privacy.cipher import Binding, SealError, key_version, new_key, open_sealed, seal
from afterdark.privacy.models import UserKey
from afterdark.privacy.providers import KeyProvider


@dataclass(frozen=True)
class DataKey:
    version: int
    key: bytes


def _context(user_id: int, version: int) -> bytes:
    return f"afterdark-user-key|{user_id}|{version}".encode()


class Keyring:
    """Data keys of every user, behind one key provider."""

    def __init__(self, provider: KeyProvider) -> None:
        self.provider = provider
        self._keys: dict[tuple[int, int], bytes] = {}
        self._current: dict[int, int] = {}

    async def current(self, session: AsyncSession, user_id: int) -> DataKey:
        """The key new data is sealed with (made on first use)."""
        version = self._current.get(user_id)
        if version is None:
            row = await session.scalar(
                select(UserKey)
                .where(UserKey.user_id == user_id, UserKey.retired_at.is_(None))
                .order_by(UserKey.version.desc())
            )
            if row is None:
                row = await self._create(session, user_id, 1)
            self._remember(row)
            version = row.version
        return DataKey(version, self._keys[(user_id, version)])

    async def key(self, session: AsyncSession, user_id: int, version: int) -> bytes:
        """A key version of the user's (older ones too, for data not yet re-sealed)."""
        cached = self._keys.get((user_id, version))
        if cached is not None:
            return cached
        row = await session.scalar(
            select(UserKey).where(UserKey.user_id == user_id, UserKey.version == version)
        )
        if row is None:
            raise SealError(f"user {user_id} has no data key version {version} (shredded?)")
        return self._remember(row)

    async def seal_text(
        self, session: AsyncSession, user_id: int, text: str, binding: Binding
    ) -> bytes:
        current = await self.current(session, user_id)
        return seal(current.key, current.version, text.encode("utf-8"), binding)

    async def open_text(
        self, session: AsyncSession, user_id: int, blob: bytes, binding: Binding
    ) -> str:
        key = await self.key(session, user_id, key_version(blob))
        return open_sealed(key, blob, binding).decode("utf-8")

    async def rotate(self, session: AsyncSession, user_id: int) -> int:
        """Start a new key version for the user's new writes; returns it."""
        current = await self.current(session, user_id)
        await session.execute(
            update(UserKey)
            .where(UserKey.user_id == user_id, UserKey.retired_at.is_(None))
            .values(retired_at=utcnow())
        )
        row = await self._create(session, user_id, current.version + 1)
        self._remember(row)
        return row.version

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
        self.forget(user_id)

    def forget(self, user_id: int) -> None:
        """Drop the user's keys from memory."""
        self._current.pop(user_id, None)
        for cached in [k for k in self._keys if k[0] == user_id]:
            del self._keys[cached]

    async def _create(self, session: AsyncSession, user_id: int, version: int) -> UserKey:
        key = new_key()
        row = UserKey(
            user_id=user_id,
            version=version,
            wrapped=self.provider.wrap(key, _context(user_id, version)),
            kek_id=self.provider.key_id,
        )
        session.add(row)
        await session.flush()
        self._keys[(user_id, version)] = key
        return row

    def _remember(self, row: UserKey) -> bytes:
        key = self._keys.get((row.user_id, row.version))
        if key is None:
            key = self.provider.unwrap(row.wrapped, _context(row.user_id, row.version))
            self._keys[(row.user_id, row.version)] = key
        if row.retired_at is None:
            self._current[row.user_id] = row.version
        return key
