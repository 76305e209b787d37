"""What the memory service needs from a running instance: keys, settings, the embedder."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from afterdark.config import MemorySettings
from afterdark.privacy.keyring import Keyring

if TYPE_CHECKING:
    from afterdark.memory.embeddings import Embedder


@dataclass
class MemoryContext:
    """Built once per instance; the embedding model loads on first use, off the event loop."""

    keyring: Keyring
    settings: MemorySettings
    _embedder: Embedder | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def embedder(self) -> Embedder:
        """The configured embedding model (loaded once, in a thread: MiniLM takes a second)."""
        if self._embedder is None:
            from afterdark.memory.embeddings import create_embedder  # numpy models: lazily

            async with self._lock:
                if self._embedder is None:
                    self._embedder = await asyncio.to_thread(
                        create_embedder, self.settings.embedder
                    )
        return self._embedder
