"""The database: an async engine and session factory for SQLite or PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

if TYPE_CHECKING:
    from afterdark.credits.payments.settings import PaymentsSettings
    from afterdark.privacy.keyring import Keyring

KEYRING = "afterdark.keyring"
"""``session.info`` entry: the keyring sealed rows are sealed and opened with."""
PAYMENTS = "afterdark.payments"
"""``session.info`` entry: the payment settings, which say what needs a plan
(``credits/unlocks.py``); None: nothing does (as with payments off)."""


class Database:
    """One engine and its session factory; build one per process and share it.

    ``keyring`` holds the users' data keys: every session seals and opens rows with it
    (privacy/sealing.py). Without one, only rows without an owner can be read or written.
    ``payments`` travels with every session too, so a decision made deep in a request (may
    this user see explicit content?) knows which capabilities a plan is needed for.
    """

    def __init__(
        self,
        url: str,
        *,
        keyring: Keyring | None = None,
        payments: PaymentsSettings | None = None,
        echo: bool = False,
    ) -> None:
        self.url = url
        self.keyring = keyring
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            database = make_url(url).database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(
            self.engine, expire_on_commit=False, info={KEYRING: keyring, PAYMENTS: payments}
        )

    def session(self) -> AsyncSession:
        return self.sessions()

    async def dispose(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; NORMAL sync is durable across app
    # crashes (WAL is fsynced at checkpoints); foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Deleted content is overwritten with zeros, so an account deletion leaves no remnants
    # in the database file (privacy/deletion.py).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()
