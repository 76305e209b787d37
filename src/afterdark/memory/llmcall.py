"""One non-streamed completion through the chat backend, for memory work.

Memory jobs (fact extraction, summaries) want a whole answer, not a stream; every backend
streams, so this collects the chunks. Sampling is low-temperature and without repetition
penalty, which would otherwise push a small model off valid JSON.
"""

from __future__ import annotations

import asyncio

from afterdark.llm.base import ChatMessage, GenerationRequest, LLMBackend, SamplerSettings

DEFAULT_TIMEOUT = 120.0
"""Seconds a whole memory completion may take (the backend bounds each token on its own)."""


def memory_sampler(max_tokens: int, temperature: float = 0.1) -> SamplerSettings:
    """Sampling for bookkeeping answers: nearly greedy, bounded length."""
    return SamplerSettings(
        temperature=temperature,
        top_p=None,
        min_p=None,
        top_k=None,
        repetition_penalty=None,
        max_tokens=max_tokens,
    )


async def complete(
    backend: LLMBackend,
    messages: list[ChatMessage],
    *,
    max_tokens: int,
    temperature: float = 0.1,
    timeout: float = DEFAULT_TIMEOUT,
) -> str:
    """The model's whole answer to ``messages``; raises LLMError or TimeoutError."""
    request = GenerationRequest(messages=messages, sampler=memory_sampler(max_tokens, temperature))
    parts: list[str] = []
    async with asyncio.timeout(timeout):
        async for chunk in backend.stream(request):
            parts.append(chunk.text)
    return "".join(parts)
