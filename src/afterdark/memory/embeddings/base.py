"""What every embedding model offers: the ``Embedder`` protocol and row normalisation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class EmbedderUnavailableError(RuntimeError):
    """The model's files are missing or unreadable (its package is not installed)."""


class Embedder(Protocol):
    """Turns texts into unit vectors whose dot product is their cosine similarity.

    ``name`` is a stable id stored beside each vector (vectors from different models or
    sizes never compare). ``embed`` is CPU work for ``asyncio.to_thread``: every
    implementation here may be called from several threads at once.
    """

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Float32 array of shape (len(texts), dim), rows of length 1.

        A text with nothing the model can read (a static model given "") gives a zero row,
        which scores 0 against everything instead of NaN.
        """
        ...


def empty(dim: int) -> Vectors:
    """The (0, dim) result for no texts."""
    return np.zeros((0, dim), dtype=np.float32)


def unit_rows(matrix: Vectors) -> Vectors:
    """Scale each row of ``matrix`` to length 1 in place (zero rows stay zero)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.divide(matrix, norms, out=matrix, where=norms > 0)
    return matrix
