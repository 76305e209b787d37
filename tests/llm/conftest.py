"""Fixtures for the language-model backends: a stand-in server in the test's loop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from afterdark.config import LLMSettings
from afterdark.llm.openai_compat import OpenAICompatBackend
from tests.support.openai_standin import StandIn, serve_standin


@pytest.fixture
async def server() -> AsyncIterator[StandIn]:
    async with serve_standin() as running:
        yield running


@pytest.fixture
async def make_backend(
    server: StandIn,
) -> AsyncIterator[Callable[..., OpenAICompatBackend]]:
    """Build ``openai`` backends aimed at the stand-in; all are closed afterwards."""
    made: list[OpenAICompatBackend] = []

    def make(**overrides: Any) -> OpenAICompatBackend:
        options: dict[str, Any] = {"backend": "openai", "base_url": server.base_url}
        options.update(overrides)
        backend = OpenAICompatBackend(LLMSettings(**options))
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.aclose()
