"""What a running instance holds: settings, database, model backend, generations.

Built once by the app factory (or a CLI command) and passed down; never a global.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from afterdark.characters import catalogue
from afterdark.chat.generation import GenerationJob, Generations
from afterdark.config import ConfigError, Settings
from afterdark.credits.payments.settings import PaymentsSettings
from afterdark.credits.service import Sparks
from afterdark.images.base import ImageBackend
from afterdark.images.service import Pictures
from afterdark.llm.base import LLMBackend
from afterdark.llm.registry import create_backend
from afterdark.memory.context import MemoryContext
from afterdark.memory.jobs import InProcessJobs, JobRunner
from afterdark.memory.pipeline import schedule_after_reply
from afterdark.privacy.keyring import Keyring
from afterdark.privacy.models import UserKey
from afterdark.privacy.providers import create_key_provider
from afterdark.safety.classifier import ProfanityCheck
from afterdark.safety.likeness import LikenessGuard
from afterdark.safety.limits import HardLimits
from afterdark.safety.ratelimit import MemoryRateLimiter, RateLimiter
from afterdark.store.engine import Database
from afterdark.store.files import FileStore
from afterdark.store.migrate import upgrade
from afterdark.voice.base import SpeechBackend, TranscriptionBackend
from afterdark.voice.service import Voices

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    database: Database
    backend: LLMBackend
    generations: Generations
    secret_key: bytes
    files: FileStore
    keyring: Keyring
    likeness: LikenessGuard
    limits: HardLimits
    memory: MemoryContext
    jobs: JobRunner
    sparks: Sparks
    pictures: Pictures
    voices: Voices
    limiter: RateLimiter = field(default_factory=MemoryRateLimiter)
    background: list[asyncio.Task[None]] = field(default_factory=list)

    async def aclose(self) -> None:
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        await self.generations.aclose()
        await self.pictures.aclose()
        await self.voices.aclose()
        await self.jobs.aclose()
        await self.backend.aclose()
        await self.database.dispose()


async def prepare_database(settings: Settings) -> Database:
    """Open the database with the users' keyring, migrate it and load the catalogue."""
    # A missing or bad key-encryption key stops the start before anything opens.
    keyring = Keyring(create_key_provider(settings))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.resolved_database_url, keyring=keyring, payments=settings.payments)
    await upgrade(database)
    await check_kek(database, keyring)
    if settings.seed_catalogue:
        async with database.session() as session:
            await catalogue.seed_catalogue(session)
            await session.commit()
    return database


async def open_runtime(
    settings: Settings,
    *,
    backend: LLMBackend | None = None,
    image_backend: ImageBackend | None = None,
    speech: SpeechBackend | None = None,
    transcription: TranscriptionBackend | None = None,
    recover: bool = True,
) -> Runtime:
    """Everything an instance needs; ``recover`` marks replies a crash left mid-stream."""
    likeness = LikenessGuard(settings.likeness)
    if likeness.has_protected:  # a bad protected photo stops the start, naming the file
        await asyncio.to_thread(likeness.load_people)
    database = await prepare_database(settings)
    assert database.keyring is not None
    backend = backend or create_backend(settings.llm)
    limits = hard_limits(settings, likeness)
    memory = MemoryContext(database.keyring, settings.memory)
    sparks = Sparks(database, settings.sparks)
    generations = Generations(
        database,
        backend,
        settings.chat.flush_interval,
        limits=limits,
        memory=memory,
        sparks=sparks,
    )
    await generations.startup(recover=recover)
    jobs = InProcessJobs()

    files = file_store(settings)
    pictures = Pictures(settings, database, files, sparks, backend=image_backend, limits=limits)

    def after_reply(job: GenerationJob) -> None:
        assert job.message_id is not None
        if job.kind != "impersonate":
            pictures.after_reply(job.user_id, job.conversation_id, job.message_id)
        schedule_after_reply(
            jobs,
            database,
            memory,
            backend,
            user_id=job.user_id,
            conversation_id=job.conversation_id,
            reply_id=job.message_id,
        )

    generations.after_reply = after_reply
    if recover:
        await pictures.recover()
    runtime = Runtime(
        settings,
        database,
        backend,
        generations,
        load_secret_key(settings),
        files,
        database.keyring,
        likeness,
        limits,
        memory,
        jobs,
        sparks,
        pictures,
        Voices(settings, database, files, sparks, speech=speech, transcription=transcription),
    )
    if recover and sparks.enabled:
        runtime.background.append(asyncio.create_task(release_stale_holds(sparks)))
    if recover and settings.payments.configured:
        runtime.background.append(
            asyncio.create_task(apply_waiting_payments(database, settings.payments))
        )
    return runtime


HOLD_SWEEP_SECONDS = 300.0


async def release_stale_holds(sparks: Sparks, every: float = HOLD_SWEEP_SECONDS) -> None:
    """Release Sparks held by replies that never finished (a crash), now and every 5 min."""
    while True:
        try:
            released = await sparks.expire_stale()
            if released:
                log.info("released %d stale Spark holds", released)
        except Exception:
            log.exception("releasing stale Spark holds failed")
        await asyncio.sleep(every)


async def apply_waiting_payments(
    database: Database, settings: PaymentsSettings, every: float = HOLD_SWEEP_SECONDS
) -> None:
    """Apply Stripe events that arrived before what they depend on (or whose processing
    failed), at start and every 5 min, besides each new delivery's own sweep; and delete at
    Stripe the customers of deleted accounts that are still there (Stripe was unreachable)."""
    # Imported here: the Stripe SDK costs every CLI command a third of a second otherwise.
    from afterdark.credits.payments import customers, webhooks

    while True:
        try:
            await webhooks.process_pending(database, settings)
        except Exception:
            log.exception("applying waiting Stripe events failed")
        try:
            await customers.delete_pending(database, settings)
        except Exception:
            log.exception("deleting Stripe customers of deleted accounts failed")
        await asyncio.sleep(every)


def hard_limits(settings: Settings, likeness: LikenessGuard) -> HardLimits:
    """The hard limits, with the operator's real people (their list and protected faces)."""
    names = likeness.protected_names()
    if settings.safety.real_people_file is not None:
        names += settings.safety.real_people_file.read_text("utf-8").splitlines()
    classifier = ProfanityCheck()
    if settings.safety.warm_classifier:  # several seconds of imports, off the event loop
        threading.Thread(target=classifier.warm, name="classifier-warm", daemon=True).start()
    return HardLimits(classifier, names)


async def check_kek(database: Database, keyring: Keyring) -> None:
    """Refuse to start when the stored data keys were wrapped under another KEK."""
    async with database.session() as session:
        others = list(
            await session.scalars(
                select(UserKey.kek_id).where(UserKey.kek_id != keyring.provider.key_id).distinct()
            )
        )
    if others:
        await database.dispose()
        raise ConfigError(
            f"the users' data keys are wrapped under another key-encryption key ({others[0]}), "
            "not the configured one: set AFTERDARK_PRIVACY__KEK_FILE (or __KEK) to that key"
        )


def file_store(settings: Settings) -> FileStore:
    """Where card images, CharX assets and avatars live: ``DATA_DIR/files``."""
    return FileStore(Path(settings.data_dir) / "files")


def load_secret_key(settings: Settings) -> bytes:
    """The configured secret, or one generated once into the data folder."""
    if settings.security.secret_key is not None:
        return settings.security.secret_key.get_secret_value().encode()
    path = Path(settings.data_dir) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()
