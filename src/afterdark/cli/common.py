"""Shared CLI plumbing: settings, the runtime, and turning domain errors into exit codes."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import typer

from afterdark.config import ConfigError, Settings, load_settings
from afterdark.errors import AfterdarkError
from afterdark.llm.base import LLMError
from afterdark.runtime import Runtime, open_runtime, prepare_database
from afterdark.store.engine import Database

T = TypeVar("T")


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        raise fail(str(exc), 2) from None


def run(main: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine, printing domain errors as one line and exiting non-zero."""
    try:
        return asyncio.run(main())  # type: ignore[arg-type]
    except (AfterdarkError, LLMError) as exc:
        raise fail(str(exc)) from None
    except ConfigError as exc:  # found while opening: the key-encryption key, a folder
        raise fail(str(exc), 2) from None
    except KeyboardInterrupt:
        sys.exit(130)


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = await prepare_database(settings)
    try:
        yield db
    finally:
        await db.dispose()


@asynccontextmanager
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    # A CLI command may run beside the server: never touch the server's running replies.
    rt = await open_runtime(settings, recover=False)
    try:
        yield rt
    finally:
        await rt.aclose()
