"""Sealing benchmark: what encrypting user text at rest costs on writes and reads.

Characters are the one table that holds both kinds of row, so the baseline is measured in
the same run, on the same database, with the same fields: a built-in character (no owner)
keeps its fields as plain JSON, a user's character seals the same JSON with the user's
data key (AES-256-GCM, bound to the row). Messages are timed too, as rows per second, for
a feel of the chat path (every message has an owner, so they have no plain twin).

* **write**: insert N characters in one transaction (each row is inserted, then its
  sealed value written once its id is known) — sealed against plain.
* **read**: load the same N characters through the ORM, opening each — sealed against
  plain (alternated, best of three).

Run from the repository root::

    .venv/bin/python benchmarks/sealing.py              # 2,000 rows
    .venv/bin/python benchmarks/sealing.py --count 500  # quicker

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from datetime import date

from sqlalchemy import select

from afterdark.accounts import service as accounts_service
from afterdark.accounts.schemas import UserCreate
from afterdark.characters.models import Character
from afterdark.chat.models import Conversation, Message
from afterdark.privacy.keyring import Keyring
from afterdark.privacy.providers import LocalKeyProvider
from afterdark.store.engine import Database
from afterdark.store.migrate import upgrade

DESCRIPTION = (
    "A lighthouse keeper of forty who restores old clocks, talks to the gulls, "
    "and keeps a logbook of every ship that passes. " * 6
)


def character(owner: int | None, number: int) -> Character:
    return Character(
        owner_id=owner,
        name=f"Keeper {number}",
        age=40,
        description=DESCRIPTION,
        personality="patient, dry humour, curious",
        first_message="The lamp is lit. Come in out of the wind.",
        tags=["slice of life", "coastal"],
    )


async def timed_insert(db: Database, owner: int | None, count: int) -> float:
    async with db.session() as session:
        start = time.perf_counter()
        session.add_all([character(owner, n) for n in range(count)])
        await session.commit()
        return time.perf_counter() - start


async def timed_read(db: Database, owned: bool) -> tuple[float, int]:
    condition = Character.owner_id.is_not(None) if owned else Character.owner_id.is_(None)
    async with db.session() as session:
        start = time.perf_counter()
        rows = list(await session.scalars(select(Character).where(condition)))
        total = sum(len(c.description) for c in rows)
        return time.perf_counter() - start, total


async def messages(db: Database, user_id: int, count: int) -> tuple[float, float]:
    async with db.session() as session:
        chat = Conversation(user_id=user_id, character_id=1, sampler={})
        session.add(chat)
        await session.flush()
        start = time.perf_counter()
        session.add_all(
            Message(conversation_id=chat.id, user_id=user_id, role="user", content=DESCRIPTION)
            for _ in range(count)
        )
        await session.commit()
        written = time.perf_counter() - start
    async with db.session() as session:
        start = time.perf_counter()
        loaded = list(
            await session.scalars(select(Message).where(Message.conversation_id == chat.id))
        )
        assert all(m.content == DESCRIPTION for m in loaded)
        read = time.perf_counter() - start
    return written, read


async def run(count: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        db = Database(
            f"sqlite+aiosqlite:///{folder}/bench.db",
            keyring=Keyring(LocalKeyProvider(os.urandom(32))),
        )
        await upgrade(db)
        async with db.session() as session:
            user = await accounts_service.create_user(
                session,
                UserCreate(
                    email="bench@example.com", password="x" * 12, birthdate=date(1980, 1, 1)
                ),
                min_age=18,
            )
            await session.commit()
        figures["write_plain_s"] = await timed_insert(db, None, count)
        figures["write_sealed_s"] = await timed_insert(db, user.id, count)
        plain, sealed = [], []
        for _ in range(3):  # alternated, best of three, so caches favour neither
            plain.append(await timed_read(db, owned=False))
            sealed.append(await timed_read(db, owned=True))
        assert plain[0][1] == sealed[0][1]
        figures["read_plain_s"] = min(t for t, _ in plain)
        figures["read_sealed_s"] = min(t for t, _ in sealed)
        figures["message_write_s"], figures["message_read_s"] = await messages(db, user.id, count)
        await db.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="rows of each kind (2000)")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    figures = asyncio.run(run(args.count))
    n = args.count
    print(f"{n} characters of {len(DESCRIPTION.encode()) + 120} bytes of text each, SQLite\n")
    print(f"{'':24}{'plain (built-in)':>18}{'sealed (user)':>16}{'ratio':>8}")
    for label, key in (("write, rows/s", "write"), ("read, rows/s", "read")):
        plain, sealed = n / figures[f"{key}_plain_s"], n / figures[f"{key}_sealed_s"]
        print(f"{label:24}{plain:>18,.0f}{sealed:>16,.0f}{sealed / plain:>8.2f}")
    print(
        f"\nmessages (sealed): {n / figures['message_write_s']:,.0f} written/s, "
        f"{n / figures['message_read_s']:,.0f} loaded/s"
    )
    if args.json:
        print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
