"""The ASGI application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from afterdark import __version__
from afterdark.config import Settings
from afterdark.images.base import ImageBackend
from afterdark.llm.base import LLMBackend
from afterdark.runtime import open_runtime
from afterdark.voice.base import SpeechBackend, TranscriptionBackend
from afterdark.web import (
    admin,
    age,
    auth,
    call,
    characters,
    chat,
    content,
    health,
    memory,
    pages,
    payments,
    pictures,
    privacy,
    sparks,
    voice,
    wellbeing,
    worldbooks,
)
from afterdark.web.errors import register_error_handlers
from afterdark.web.security import BodyLimit, SecurityHeaders

STATIC = Path(__file__).parent / "web" / "static"


def create_app(
    settings: Settings,
    *,
    backend: LLMBackend | None = None,
    image_backend: ImageBackend | None = None,
    speech: SpeechBackend | None = None,
    transcription: TranscriptionBackend | None = None,
) -> FastAPI:
    """Build the app; the database, model backend and workers open in its lifespan."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await open_runtime(
            settings,
            backend=backend,
            image_backend=image_backend,
            speech=speech,
            transcription=transcription,
        )
        app.state.runtime = runtime
        # Everything loaded so far lives for the whole process: keep it out of the
        # collector's full passes, which otherwise stall every stream at once.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await runtime.aclose()

    app = FastAPI(
        title="Afterdark",
        version=__version__,
        lifespan=lifespan,
    )
    register_error_handlers(app)
    routers = (health, auth, characters, worldbooks, chat, wellbeing, privacy, age, content, admin)
    for module in (*routers, memory, sparks, payments, pictures, voice, call, pages):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # A message may be up to max_message_chars of 4-byte characters, plus JSON overhead.
    app.add_middleware(
        BodyLimit,
        limit=settings.chat.max_message_chars * 4 + 65536,
        uploads={
            **characters.UPLOAD_LIMITS,
            **worldbooks.UPLOAD_LIMITS,
            **pictures.UPLOAD_LIMITS,
            **voice.UPLOAD_LIMITS,
        },
    )
    app.add_middleware(SecurityHeaders, hsts=settings.secure_cookies)
    return app
