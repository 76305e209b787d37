"""The ``embedded`` backend: a GGUF model run in this process by llama.cpp.

The model loads on first use in the backend's single worker thread, which also
runs every generation: llama.cpp contexts are not thread-safe, so the thread's
queue is the queue of waiting replies. Tokens cross to the event loop through
``call_soon_threadsafe``; a cancelled consumer sets a flag that llama.cpp reads
after every sampled token.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from afterdark.config import LLMSettings
from afterdark.llm.base import (
    ChatMessage,
    Chunk,
    GenerationRequest,
    LLMBackend,
    LLMError,
    LLMResponseError,
    LLMUnavailableError,
    SamplerSettings,
    Tokenizer,
    Usage,
)
from afterdark.llm.tokenizer import GGUFTokenizer, check_gguf, packaged_model_path, quiet_llama_logs

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

# Used when a GGUF carries no chat template (old conversions): ChatML, which most
# instruction-tuned models of the GGUF era understand.
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Our sampler field -> llama-cpp-python's keyword; None values keep llama.cpp's default.
_SAMPLER_KEYWORDS = (
    ("temperature", "temperature"),
    ("top_p", "top_p"),
    ("min_p", "min_p"),
    ("top_k", "top_k"),
    ("repetition_penalty", "repeat_penalty"),
)

_Item = str | Chunk | BaseException


@dataclass(slots=True)
class _Model:
    llama: Llama
    formatter: Jinja2ChatFormatter


class EmbeddedBackend:
    """Runs a GGUF model in-process; one generation at a time, others wait their turn."""

    name = "embedded"

    def __init__(self, settings: LLMSettings) -> None:
        self.model_path: Path = check_gguf(settings.model_path or packaged_model_path())
        self.context_size = settings.context_size
        self.threads = settings.threads or os.cpu_count() or 1
        self.tokenizer: Tokenizer = GGUFTokenizer(self.model_path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="afterdark-llm")
        self._model: _Model | None = None  # touched only on the worker thread
        self._closed = False

    async def load(self) -> None:
        """Load the model now rather than on the first reply."""
        self._check_open()
        await asyncio.get_running_loop().run_in_executor(self._executor, self._loaded)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        """Yield the reply token by token; cancelling the consumer stops llama.cpp."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[_Item] = asyncio.Queue()
        cancelled = threading.Event()

        def emit(item: _Item) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop has closed: nobody is listening any more
                cancelled.set()

        self._check_open()
        self._executor.submit(self._generate, request, emit, cancelled)
        try:
            while True:
                item = await queue.get()
                if isinstance(item, str):
                    yield Chunk(item)
                elif isinstance(item, Chunk):
                    yield item
                    return
                else:
                    raise item
        finally:
            cancelled.set()

    async def aclose(self) -> None:
        """Wait for the running generation, free the model and stop the worker thread."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._unload)
        self._executor.shutdown(wait=False)

    def _check_open(self) -> None:
        if self._closed:
            raise LLMUnavailableError("The embedded model has been shut down.")

    # Everything below runs on the worker thread.

    def _loaded(self) -> _Model:
        if self._model is None:
            self._model = self._load()
        return self._model

    def _load(self) -> _Model:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        quiet_llama_logs()
        try:
            llama = Llama(
                model_path=str(self.model_path),
                n_ctx=self.context_size,
                n_threads=self.threads,
                n_threads_batch=self.threads,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            message = f"Cannot load the model file {self.model_path}: {exc}"
            raise LLMUnavailableError(message) from None
        metadata: dict[str, str] = llama.metadata
        template = metadata.get("tokenizer.chat_template") or CHATML_TEMPLATE
        formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=_token_text(llama, llama.token_eos()),
            bos_token=_token_text(llama, llama.token_bos()),
            add_generation_prompt=True,
        )
        return _Model(llama, formatter)

    def _unload(self) -> None:
        if self._model is not None:
            self._model.llama.close()
            self._model = None

    def _generate(
        self, request: GenerationRequest, emit: Callable[[_Item], None], cancelled: threading.Event
    ) -> None:
        if cancelled.is_set():  # the consumer left while this reply waited its turn
            return
        try:
            emit(self._complete(request, emit, cancelled))
        except LLMError as exc:
            emit(exc)
        except Exception as exc:  # a llama.cpp failure must reach the consumer, not the thread
            emit(LLMResponseError(f"The embedded model failed: {exc}"))

    def _complete(
        self, request: GenerationRequest, emit: Callable[[_Item], None], cancelled: threading.Event
    ) -> Chunk:
        from llama_cpp import StoppingCriteriaList

        model = self._loaded()
        llama = model.llama
        prompt, template_stops = _format(model.formatter, request)
        prompt_tokens = len(llama.tokenize(prompt.encode(), add_bos=True, special=True))
        if prompt_tokens >= self.context_size:
            raise LLMResponseError(
                f"The prompt takes {prompt_tokens} tokens but the model's context window holds "
                f"{self.context_size}; shorten the conversation or raise "
                "AFTERDARK_LLM__CONTEXT_SIZE."
            )
        sampled = 0

        def stop_when_cancelled(_ids: Any, _logits: Any) -> bool:
            nonlocal sampled
            sampled += 1
            return cancelled.is_set()

        parts = llama.create_completion(
            prompt,
            stream=True,
            stop=[*request.sampler.stop, *template_stops],
            stopping_criteria=StoppingCriteriaList([stop_when_cancelled]),
            **_sampler_keywords(request.sampler),
        )
        finish_reason = "stop"
        for part in cast("Any", parts):
            choice = part["choices"][0]
            if cancelled.is_set():
                break
            if choice["text"]:
                emit(choice["text"])
            if choice["finish_reason"]:
                finish_reason = choice["finish_reason"]
        # llama-cpp-python consults the stopping criteria once per sampled token and
        # once more after the loop.
        usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=max(sampled - 1, 0))
        return Chunk("", finish_reason=finish_reason, usage=usage)


def _format(formatter: Jinja2ChatFormatter, request: GenerationRequest) -> tuple[str, list[str]]:
    """The prompt in the model's own chat format, plus the template's stop strings."""
    messages = [{"role": m.role, "content": m.content} for m in request.messages]
    try:
        response = formatter(messages=cast("Any", messages))
    except Exception:
        # Some templates (Gemma, older Mistral) reject the system role: fold it into
        # the first user turn, which is what those models were trained on.
        try:
            response = formatter(messages=cast("Any", _fold_system(request.messages)))
        except Exception as exc:
            message = f"The model's chat template rejected the prompt: {exc}"
            raise LLMResponseError(message) from None
    prompt = response.prompt + (request.prefill or "")
    stop = response.stop
    stops = [stop] if isinstance(stop, str) else [s for s in stop or [] if s]
    return prompt, stops


def _fold_system(messages: list[ChatMessage]) -> list[dict[str, str]]:
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    rest = [{"role": m.role, "content": m.content} for m in messages if m.role != "system"]
    if system:
        if rest and rest[0]["role"] == "user":
            rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
        else:
            rest.insert(0, {"role": "user", "content": system})
    return rest


def _sampler_keywords(sampler: SamplerSettings) -> dict[str, Any]:
    keywords: dict[str, Any] = {"max_tokens": sampler.max_tokens}
    for ours, theirs in _SAMPLER_KEYWORDS:
        value = getattr(sampler, ours)
        if value is not None:
            keywords[theirs] = value
    return keywords


def _token_text(llama: Llama, token: int) -> str:
    if token < 0:
        return ""
    return llama.detokenize([token], special=True).decode(errors="ignore")


def create(settings: LLMSettings) -> LLMBackend:
    """Factory for the registry (typed so mypy checks the class against the Protocol)."""
    return EmbeddedBackend(settings)
