"""The ``embedded`` backend with the real packaged SmolLM2-135M model."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from afterdark.config import LLMSettings
from afterdark.llm.base import (
    ChatMessage,
    Chunk,
    GenerationRequest,
    LLMBackend,
    LLMResponseError,
    LLMUnavailableError,
    SamplerSettings,
)
from afterdark.llm.embedded import EmbeddedBackend
from afterdark.llm.tokenizer import packaged_model_path

pytestmark = pytest.mark.slow


def settings(**options: Any) -> LLMSettings:
    # One thread: llama.cpp's spinning threads crawl when tests share the cores.
    return LLMSettings(threads=1, **options)


def ask(text: str, max_tokens: int = 8, prefill: str | None = None) -> GenerationRequest:
    return GenerationRequest(
        messages=[
            ChatMessage("system", "You are Ada, a storyteller."),
            ChatMessage("user", text),
        ],
        sampler=SamplerSettings(max_tokens=max_tokens),
        prefill=prefill,
    )


async def collect(backend: LLMBackend, request: GenerationRequest) -> list[Chunk]:
    return [chunk async for chunk in backend.stream(request)]


@pytest.fixture(scope="module")
def model() -> Iterator[EmbeddedBackend]:
    """One loaded model for the module; it is not tied to any test's event loop."""
    backend = EmbeddedBackend(settings())
    yield backend
    asyncio.run(backend.aclose())


async def test_generates_a_short_reply_with_usage(model: EmbeddedBackend) -> None:
    assert isinstance(model, LLMBackend)

    chunks = await collect(model, ask("Tell me a story about a cat."))

    text = "".join(c.text for c in chunks)
    final = chunks[-1]
    assert text.strip()
    assert final.finish_reason in {"stop", "length"}
    assert final.usage is not None
    assert final.usage.prompt_tokens > 10
    assert 0 < final.usage.completion_tokens <= 8
    assert all(c.finish_reason is None for c in chunks[:-1])


async def test_prefill_continues_the_assistant_turn(model: EmbeddedBackend) -> None:
    plain = await collect(model, ask("Tell me a story."))
    continued = await collect(model, ask("Tell me a story.", prefill="Once upon a time"))

    text = "".join(c.text for c in continued)
    assert text.strip()
    assert not text.lstrip().startswith("Once upon a time")  # only the new text comes back
    assert plain[-1].usage is not None
    assert continued[-1].usage is not None
    assert continued[-1].usage.prompt_tokens == plain[-1].usage.prompt_tokens + 4


async def test_cancelling_the_consumer_stops_generation(model: EmbeddedBackend) -> None:
    first = asyncio.Event()

    async def consume() -> None:
        async for _chunk in model.stream(ask("Write a very long essay about the sea.", 1500)):
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    # The worker is free again at once: the next reply is not stuck behind 1,500 tokens.
    started = time.monotonic()
    chunks = await collect(model, ask("Hi", max_tokens=2))
    assert chunks[-1].finish_reason is not None
    assert time.monotonic() - started < 5


async def test_replies_wait_their_turn(model: EmbeddedBackend) -> None:
    results = await asyncio.gather(*(collect(model, ask(f"Say {n}.", 4)) for n in range(3)))

    assert all(chunks[-1].finish_reason in {"stop", "length"} for chunks in results)


def test_tokenizer_counts_before_the_model_loads() -> None:
    backend = EmbeddedBackend(settings())

    short = backend.tokenizer.count("Hello there.")
    longer = backend.tokenizer.count("Hello there, how has your evening been so far?")

    assert 0 < short < longer
    assert backend.tokenizer.count("") == 0
    assert backend._model is None
    assert backend.context_size == 2048
    assert backend.threads == 1


async def test_concurrent_first_calls_load_once() -> None:
    backend = EmbeddedBackend(settings(context_size=512))
    loads = 0
    real_load = backend._load

    def counting_load():  # type: ignore[no-untyped-def]
        nonlocal loads
        loads += 1
        return real_load()

    backend._load = counting_load  # type: ignore[method-assign]
    try:
        await asyncio.gather(backend.load(), collect(backend, ask("Hi", 2)))
    finally:
        await backend.aclose()

    assert loads == 1


async def test_prompt_longer_than_the_context_is_refused() -> None:
    backend = EmbeddedBackend(settings(context_size=256))
    try:
        with pytest.raises(LLMResponseError, match="context window holds 256"):
            await collect(backend, ask("word " * 400))
    finally:
        await backend.aclose()


async def test_closed_backend_refuses_work() -> None:
    backend = EmbeddedBackend(settings())
    await backend.aclose()

    with pytest.raises(LLMUnavailableError, match="shut down"):
        await collect(backend, ask("Hi"))


def test_missing_model_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "missing.gguf"

    with pytest.raises(LLMUnavailableError, match=str(missing)):
        EmbeddedBackend(settings(model_path=missing))


def test_non_gguf_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.gguf"
    path.write_text("not a model")

    with pytest.raises(LLMUnavailableError, match="is not a GGUF file"):
        EmbeddedBackend(settings(model_path=path))


async def test_corrupt_gguf_fails_on_load_with_the_path(tmp_path: Path) -> None:
    path = tmp_path / "broken.gguf"
    path.write_bytes(packaged_model_path().read_bytes()[:4096])  # a header, then nothing
    backend = EmbeddedBackend(settings(model_path=path))
    try:
        with pytest.raises(LLMUnavailableError, match=str(path)):
            await collect(backend, ask("Hi"))
    finally:
        await backend.aclose()
