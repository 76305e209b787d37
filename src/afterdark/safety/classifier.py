"""A text classifier that ships in a package, behind a Protocol so a better one plugs in.

The built-in one is ``alt-profanity-check``: a linear model (scikit-learn) trained on
offensive and sexual language, 1 MB, offline, about 69,000 texts a second. It is not a
purpose-built sexual-content model: the hard limits use it as a second opinion on text the
rules already find suggestive (safety/limits.py), never alone. Importing scikit-learn takes
several seconds, so the model loads on first use or in ``warm`` (a worker thread at start).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Protocol


class TextClassifier(Protocol):
    name: str

    @property
    def ready(self) -> bool:
        """Whether scoring is quick now (False while a model still has to load)."""
        ...

    def scores(self, texts: Sequence[str]) -> list[float]:
        """For each text, how likely it is offensive or sexual, from 0 to 1."""
        ...


class ProfanityCheck:
    """``alt-profanity-check``'s model, loaded once."""

    name = "alt-profanity-check"

    def __init__(self) -> None:
        self._predict: Callable[[Sequence[str]], Sequence[float]] | None = None
        self._lock = threading.Lock()

    @property
    def ready(self) -> bool:
        """Loaded: scoring is then quick enough for the event loop."""
        return self._predict is not None

    def warm(self) -> None:
        with self._lock:
            if self._predict is None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # scikit-learn version notes
                    from profanity_check import predict_prob

                self._predict = predict_prob

    def scores(self, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        self.warm()
        assert self._predict is not None
        return [float(p) for p in self._predict(list(texts))]
