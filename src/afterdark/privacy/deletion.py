"""Real deletion of an account: keys shredded, rows and files removed, storage scrubbed.

The user's row goes and the database's ON DELETE CASCADE takes everything hanging from it
(characters, versions, conversations, messages, pictures, keys, sessions, tokens,
settings). Their files (card images, pictures, reference faces, spoken messages) leave the
data folder once the transaction commits. On SQLite, ``secure_delete`` (set on every
connection) zeroes the freed content and a truncating WAL checkpoint removes the old page
images from the write-ahead log, so nothing is left to recover from the files.

The user's Stripe customer, if they have one, is noted in the same transaction
(``credits/payments/customers.py``); once it has committed, the caller asks Stripe to delete
it (``customers.try_delete_pending``), and the payments sweep retries that until Stripe has,
so an unreachable Stripe never holds up or undoes the account's deletion.
"""

from __future__ import annotations

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.accounts.models import User
from afterdark.characters.models import Character, CharacterAsset
from afterdark.credits.payments import customers
from afterdark.images.models import Picture, ReferenceFace
from afterdark.memory import blind, vectors
from afterdark.privacy.keyring import Keyring
from afterdark.store.engine import KEYRING, Database
from afterdark.store.files import FileStore
from afterdark.voice.models import SpeechClip


async def delete_account(session: AsyncSession, files: FileStore, user: User) -> str | None:
    """Delete the user and everything they own (commit, then call ``scrub``); the Stripe
    customer noted for deletion at Stripe, if any (after the commit, ask Stripe:
    ``customers.try_delete_pending``)."""
    keys = list(
        await session.scalars(
            select(CharacterAsset.file_key)
            .join(Character, Character.id == CharacterAsset.character_id)
            .where(Character.owner_id == user.id)
        )
    )
    keys += [
        key
        for key in await session.scalars(select(Picture.file_key).where(Picture.user_id == user.id))
        if key
    ]
    keys += list(
        await session.scalars(
            select(ReferenceFace.file_key).where(ReferenceFace.user_id == user.id)
        )
    )
    keys += list(
        await session.scalars(select(SpeechClip.file_key).where(SpeechClip.user_id == user.id))
    )
    keyring: Keyring | None = session.sync_session.info.get(KEYRING)
    if keyring is not None:
        await keyring.shred(session, user.id)
        blind.forget(keyring, user.id)
    customer = await customers.record(session, user.id)
    await session.execute(delete(User).where(User.id == user.id))
    files.delete_after_commit(session, keys)
    # Decrypted vectors and the derived index key held in this process go too (the blind
    # index rows go with the memories, by cascade).
    vectors.forget_user(user.id)
    return customer


async def scrub(database: Database) -> None:
    """Push deleted pages out of the SQLite write-ahead log (no-op on PostgreSQL)."""
    if not database.is_sqlite:
        return
    async with database.engine.connect() as connection:
        await connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
