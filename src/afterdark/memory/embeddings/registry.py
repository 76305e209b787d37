"""Choosing an embedder by name, loading each model once per process."""

from __future__ import annotations

import functools
import threading

from afterdark.memory.embeddings.base import Embedder

EMBEDDERS = ("minilm", "wordllama", "fake")

# lru_cache alone would let two threads that ask at once both load the model.
_load_lock = threading.Lock()


def create_embedder(name: str) -> Embedder:
    """The embedder called ``name`` (one of EMBEDDERS), shared by every caller."""
    if name not in EMBEDDERS:
        raise ValueError(f"Unknown embedder {name!r}: choose one of {', '.join(EMBEDDERS)}.")
    with _load_lock:
        return _load(name)


@functools.cache
def _load(name: str) -> Embedder:
    # Each model's imports stay inside its branch: choosing one never loads the others.
    if name == "minilm":
        from afterdark.memory.embeddings.minilm import MiniLM

        return MiniLM.load()
    if name == "wordllama":
        from afterdark.memory.embeddings.wordllama import WordLlamaEmbedder

        return WordLlamaEmbedder.load()
    from afterdark.memory.embeddings.fake import FakeEmbedder

    return FakeEmbedder()
