"""WordLlama static embeddings (256-d): a token table averaged per text, very fast.

The weights and tokenizer ship inside the ``wordllama`` package. ``WordLlama.load()`` looks
for them in a cache folder and falls back to downloading from the Hugging Face hub, so the
package's own folder is passed as the cache and downloads are turned off.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from afterdark.memory.embeddings.base import (
    EmbedderUnavailableError,
    Vectors,
    empty,
    unit_rows,
)

# Tokens kept per text. wordllama pads a batch to its longest text, so one huge text would
# make every row of its batch as long; the mean of the first 2048 tokens sums a text up well.
MAX_TOKENS = 2048
BATCH_SIZE = 32


class WordLlamaEmbedder:
    """Mean of WordLlama's token vectors, scaled to unit length."""

    def __init__(self, model: Any) -> None:
        # Set up once, before any thread can see it: the tokenizer's Rust side refuses a
        # change of settings while another thread encodes, but concurrent encodes are fine
        # (WordLlama's embed changes no state of its own).
        model.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._model = model
        self.dim = int(model.embedding.shape[1])
        self.name = f"wordllama-{self.dim}"

    @classmethod
    def load(cls) -> WordLlamaEmbedder:
        """Load the model packaged with ``wordllama``, never touching the network."""
        wordllama = _import_wordllama()
        try:
            model = wordllama.WordLlama.load(
                cache_dir=Path(wordllama.__file__).parent, disable_download=True
            )
        except FileNotFoundError as exc:
            raise EmbedderUnavailableError(
                f"WordLlama's packaged model is missing: {exc}"
            ) from None
        return cls(model)

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One unit vector per text, shape (len(texts), 256); a text without tokens gives 0s."""
        if not texts:
            return empty(self.dim)
        # Sorting by length keeps each batch's padding small; rows go back in order below.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        pooled = self._model.embed([texts[i] for i in order], batch_size=BATCH_SIZE)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        out[order] = pooled
        return unit_rows(out)


def _import_wordllama() -> Any:
    # wordllama.inference calls logging.basicConfig(level=INFO) when imported, which would
    # give the root logger a stderr handler and INFO level behind the app's back: undo that.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        import wordllama  # type: ignore[import-untyped]
    except ImportError:
        raise EmbedderUnavailableError("WordLlama is missing: install wordllama.") from None
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
    return wordllama
