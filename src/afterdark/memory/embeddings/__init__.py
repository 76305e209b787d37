"""Text embeddings for memory retrieval: MiniLM (numpy BERT), WordLlama, and a test fake.

``create_embedder(name)`` gives a shared, thread-safe ``Embedder``; its ``embed`` is CPU
work, meant for ``asyncio.to_thread``.
"""

from afterdark.memory.embeddings.base import Embedder, EmbedderUnavailableError, Vectors
from afterdark.memory.embeddings.fake import FakeEmbedder
from afterdark.memory.embeddings.registry import EMBEDDERS, create_embedder

__all__ = [
    "EMBEDDERS",
    "Embedder",
    "EmbedderUnavailableError",
    "FakeEmbedder",
    "Vectors",
    "create_embedder",
]
