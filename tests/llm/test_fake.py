"""The in-process fake backend used by the rest of the test suite."""

from __future__ import annotations

import pytest

from afterdark.llm.base import (
    ChatMessage,
    Chunk,
    GenerationRequest,
    LLMBackend,
    LLMTimeoutError,
    SamplerSettings,
    Usage,
)
from afterdark.llm.fake import FakeBackend, split_tokens


def ask(max_tokens: int = 300) -> GenerationRequest:
    return GenerationRequest(
        [ChatMessage("user", "two words")], SamplerSettings(max_tokens=max_tokens)
    )


async def collect(backend: FakeBackend, request: GenerationRequest) -> list[Chunk]:
    return [chunk async for chunk in backend.stream(request)]


async def test_replies_follow_the_script_and_repeat_the_last() -> None:
    backend = FakeBackend(["One reply.", "Second  reply here."])
    assert isinstance(backend, LLMBackend)

    first, second, third = [await collect(backend, ask()) for _ in range(3)]

    assert [c.text for c in first] == ["One", " reply.", ""]
    assert "".join(c.text for c in second) == "Second  reply here."
    assert "".join(c.text for c in third) == "Second  reply here."
    assert second[-1] == Chunk("", finish_reason="stop", usage=Usage(2, 3))
    assert len(backend.requests) == 3


async def test_max_tokens_cuts_the_reply() -> None:
    chunks = await collect(FakeBackend(["a b c d e"]), ask(max_tokens=2))

    assert "".join(c.text for c in chunks) == "a b"
    assert chunks[-1].finish_reason == "length"


async def test_errors_on_demand_after_some_tokens() -> None:
    backend = FakeBackend(["a b c d"], error=LLMTimeoutError("too slow"), error_after=2)
    received: list[str] = []

    async def consume() -> None:
        async for chunk in backend.stream(ask()):
            received.append(chunk.text)

    with pytest.raises(LLMTimeoutError, match="too slow"):
        await consume()

    assert received == ["a", " b"]


def test_tokens_join_back_exactly() -> None:
    text = "  Hello,\n  world!  "
    assert "".join(split_tokens(text)) == text
    assert FakeBackend().tokenizer.count(text) == 2
