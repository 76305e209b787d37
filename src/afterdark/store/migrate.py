"""Run Alembic migrations from code (the app, the CLI and the tests share this)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from afterdark.store.engine import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option(
        "file_template",
        "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d-%%(rev)s_%%(slug)s",
    )
    return config


def _upgrade(connection: Connection, revision: str, database: Database) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    # Migrations that seal existing rows need the users' keys.
    config.attributes["keyring"] = database.keyring
    command.upgrade(config, revision)


async def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (idempotent)."""
    async with database.engine.connect() as connection:
        if database.is_sqlite:
            # SQLite alters a table by copying it and dropping the old one; with foreign
            # keys on, that drop would cascade into every child table's rows.
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await connection.commit()
        try:
            async with connection.begin():
                await connection.run_sync(_upgrade, revision, database)
                if database.is_sqlite:
                    broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
                    if broken:
                        raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")
        finally:
            if database.is_sqlite:
                await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                await connection.commit()
