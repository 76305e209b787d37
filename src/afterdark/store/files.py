"""Files that belong to rows (card images, CharX assets, avatars), kept in the data folder.

Each file gets a random key; the row that owns it stores the key. A user's file is sealed
with their data key, bound to its file key (``save``/``load``); files with no owner (a
built-in character's) are kept as they are. Writes are atomic (temporary file, then
rename). A file written inside a transaction that rolls back, or owned by a row whose
deletion commits, is removed once the outcome is known, so a failed request leaves no
orphan and a deleted row leaves no file behind.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.errors import NotFoundError
from afterdark.privacy.cipher import Binding
from afterdark.store.engine import KEYRING

_KEY = re.compile(r"^[0-9a-f]{32}$")


class FileStore:
    """A folder of immutable files addressed by random hex keys."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"not a file key: {key!r}")
        return self.root / key[:2] / key

    def put(self, data: bytes, key: str | None = None) -> str:
        """Store bytes under a new key and return the key."""
        key = key or secrets.token_hex(16)
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(".part")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
        return key

    def read(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            raise NotFoundError("The file is missing from the data folder.") from None

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def put_in(self, session: AsyncSession, data: bytes, key: str | None = None) -> str:
        """Store bytes for a row added in ``session``; removed again if it rolls back."""
        key = self.put(data, key)
        self._pending(session)["new"].append(key)
        return key

    async def save(self, session: AsyncSession, data: bytes, *, owner: int | None) -> str:
        """Store a file for a row added in ``session``, sealed with the owner's key."""
        key = secrets.token_hex(16)
        if owner is not None:
            keyring = session.sync_session.info[KEYRING]
            data = await keyring.seal_bytes(session, owner, data, _binding(owner, key))
        return self.put_in(session, data, key)

    async def load(self, session: AsyncSession, key: str, *, owner: int | None) -> bytes:
        """A file's bytes, opened with the owner's key."""
        data = self.read(key)
        if owner is None:
            return data
        keyring = session.sync_session.info[KEYRING]
        opened: bytes = await keyring.open_bytes(session, owner, data, _binding(owner, key))
        return opened

    def delete_after_commit(self, session: AsyncSession, keys: list[str]) -> None:
        """Remove files once the transaction that deleted their rows has committed."""
        self._pending(session)["gone"].extend(keys)

    def _pending(self, session: AsyncSession) -> dict[str, list[str]]:
        info = session.sync_session.info
        pending: dict[str, list[str]] | None = info.get(_PENDING)
        if pending is None:
            pending = info[_PENDING] = {"new": [], "gone": []}

            def settle(which: str) -> Any:
                def handler(*_: Any) -> None:
                    for key in pending[which]:
                        self.delete(key)
                    pending["new"].clear()
                    pending["gone"].clear()

                return handler

            event.listen(session.sync_session, "after_commit", settle("gone"))
            event.listen(session.sync_session, "after_rollback", settle("new"))
        return pending


_PENDING = "afterdark.files"


def _binding(owner: int, key: str) -> Binding:
    return Binding(owner, "files", key, "data")
