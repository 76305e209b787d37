"""A deterministic stand-in embedder for tests: hashed bag of words, no model to load."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from afterdark.memory.embeddings.base import Vectors, empty, unit_rows

# Words, plus each non-ASCII symbol (emoji and the like) so such texts are not all empty;
# ASCII punctuation is skipped, so "Red kite!" and "red kite" embed alike.
_TOKEN = re.compile(r"\w+|[^\w\s\x00-\x7f]")


class FakeEmbedder:
    """Each word or symbol adds ±1 to a hashed dimension: shared words mean higher cosine."""

    def __init__(self, dim: int = 64) -> None:
        if dim < 1:
            raise ValueError("dim must be at least 1")
        self.name = f"fake-{dim}"
        self.dim = dim

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Hashed bag-of-words vectors, one unit row per text."""
        if not texts:
            return empty(self.dim)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in _TOKEN.findall(text.lower()):
                slot, sign = self._slot(token)
                out[row, slot] += sign
        return unit_rows(out)

    def _slot(self, token: str) -> tuple[int, float]:
        # blake2b rather than hash(): str hashes are salted per process, and vectors made by
        # one process must match those made by the next. The random sign makes colliding
        # words cancel out on average instead of always adding up.
        digest = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "big")
        return (digest >> 1) % self.dim, 1.0 if digest & 1 else -1.0
