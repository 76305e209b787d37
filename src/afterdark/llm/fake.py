"""The ``fake`` backend: scripted replies in-process, for tests and demos.

Replies are split into word tokens (each keeps its leading whitespace) and
streamed with an optional delay. Every request is recorded in ``requests``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence

from afterdark.config import LLMSettings
from afterdark.llm.base import Chunk, GenerationRequest, LLMBackend, LLMError, Tokenizer, Usage

DEFAULT_REPLY = "Hello! I am the fake model, and this is my scripted reply."
_WORD = re.compile(r"\s*\S+|\s+$")


class WhitespaceTokenizer:
    """Counts whitespace-separated words."""

    def count(self, text: str) -> int:
        """Number of words in ``text``."""
        return len(text.split())


def split_tokens(text: str) -> list[str]:
    """Split ``text`` into word tokens that join back into exactly ``text``."""
    return _WORD.findall(text)


class FakeBackend:
    """Streams scripted replies in turn (the last one repeats); can fail on demand.

    ``error`` is raised instead of replying; with ``error_after`` it is raised
    after that many tokens. Tests may change any attribute between calls.
    """

    name = "fake"

    def __init__(
        self,
        replies: Sequence[str] = (DEFAULT_REPLY,),
        *,
        token_delay: float = 0.0,
        error: LLMError | None = None,
        error_after: int = 0,
        context_size: int = 2048,
    ) -> None:
        self.replies = list(replies) or [DEFAULT_REPLY]
        self.token_delay = token_delay
        self.error = error
        self.error_after = error_after
        self.context_size = context_size
        self.tokenizer: Tokenizer = WhitespaceTokenizer()
        self.requests: list[GenerationRequest] = []
        self.closed = False
        self._turn = 0

    def next_reply(self) -> str:
        """The reply the next request will get (and advance the script)."""
        reply = self.replies[min(self._turn, len(self.replies) - 1)]
        self._turn += 1
        return reply

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        """Yield the next scripted reply word by word, then a final chunk with usage."""
        self.requests.append(request)
        tokens = split_tokens(self.next_reply())
        limit = request.sampler.max_tokens
        finish_reason = "length" if len(tokens) > limit else "stop"
        tokens = tokens[:limit]
        for index, token in enumerate(tokens):
            if self.error is not None and index >= self.error_after:
                raise self.error
            if self.token_delay:
                await asyncio.sleep(self.token_delay)
            else:
                await asyncio.sleep(0)  # let other tasks run, as a real stream would
            yield Chunk(token)
        if self.error is not None:
            raise self.error
        prompt = sum(self.tokenizer.count(m.content) for m in request.messages)
        usage = Usage(prompt_tokens=prompt, completion_tokens=len(tokens))
        yield Chunk("", finish_reason=finish_reason, usage=usage)

    async def aclose(self) -> None:
        """Mark the backend closed."""
        self.closed = True


def create(settings: LLMSettings) -> LLMBackend:
    """Factory for the registry (typed so mypy checks the class against the Protocol)."""
    return FakeBackend(context_size=settings.context_size)
