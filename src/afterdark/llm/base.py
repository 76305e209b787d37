"""The language-model backend interface.

A backend turns a list of chat messages into a stream of text chunks. Built-in
implementations: ``embedded`` (a GGUF model run in-process by llama.cpp) and
``openai`` (any OpenAI-compatible HTTP server). Third parties implement the same
Protocol and register it under the ``afterdark.backends`` entry-point group.

Error hierarchy (every one is an ``LLMError``; the chat engine shows ``str(err)``
to the user, so messages must be plain, actionable sentences):

    LLMError
    ├── LLMUnavailableError   the backend cannot be reached or loaded
    ├── LLMTimeoutError       it answered too slowly (first token or between tokens)
    └── LLMResponseError      it answered with an error status or a malformed stream
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str


class SamplerSettings(BaseModel):
    """Sampling options; ``None`` means "the backend's default"."""

    model_config = ConfigDict(extra="forbid")

    temperature: float | None = Field(default=0.7, ge=0.0, le=5.0)
    top_p: float | None = Field(default=0.9, ge=0.0, le=1.0)
    min_p: float | None = Field(default=None, ge=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=0, le=1000)
    repetition_penalty: float | None = Field(default=1.1, ge=0.5, le=3.0)
    max_tokens: int = Field(default=300, ge=1, le=8192)
    stop: list[str] = Field(default_factory=list, max_length=16)


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(slots=True)
class GenerationRequest:
    """What to generate.

    ``messages`` is the whole prompt in chat form. When ``prefill`` is set, the model
    continues an assistant turn that already begins with that text (used by
    *continue*); the returned chunks hold only the new text.
    """

    messages: list[ChatMessage]
    sampler: SamplerSettings = field(default_factory=SamplerSettings)
    prefill: str | None = None


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of generated text; the last chunk carries ``finish_reason`` and maybe ``usage``."""

    text: str
    finish_reason: str | None = None
    usage: Usage | None = None


class LLMError(Exception):
    """Base of every backend failure; ``str()`` is shown to the user."""


class LLMUnavailableError(LLMError):
    """The backend cannot be reached or its model cannot be loaded."""


class LLMTimeoutError(LLMError):
    """The backend took too long to produce the first or the next token."""


class LLMResponseError(LLMError):
    """The backend answered with an error status or a malformed stream."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@runtime_checkable
class Tokenizer(Protocol):
    def count(self, text: str) -> int:
        """Number of tokens ``text`` takes in the model's vocabulary."""
        ...


@runtime_checkable
class LLMBackend(Protocol):
    """A source of generated text.

    ``context_size`` is the model's context window in tokens; ``tokenizer`` counts
    tokens the way the model does (prompt assembly cuts history with it).
    ``stream`` must be safe to call concurrently; a backend that can only run one
    generation at a time queues the others. Cancelling the consuming task must stop
    the generation promptly.
    """

    name: str
    context_size: int
    tokenizer: Tokenizer

    def stream(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        """Yield chunks of the reply as they are produced."""
        ...

    async def aclose(self) -> None:
        """Release connections, threads and model memory."""
        ...
