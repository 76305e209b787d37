"""Rate limits: a small Protocol and the in-process sliding-window implementation.

One process keeps its counts in memory; several web workers need a shared store (Redis,
with the scale-out work), which implements the same ``hit``.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from afterdark.errors import RateLimitedError


@dataclass(frozen=True)
class Rule:
    """At most ``limit`` hits per ``window`` seconds."""

    limit: int
    window: float


class RateLimiter(Protocol):
    def hit(self, key: str, rule: Rule) -> float:
        """Count one hit; 0 when allowed, else the seconds until the next one would be."""
        ...


class MemoryRateLimiter:
    """Exact sliding windows, a deque of hit times per key; idle keys are swept."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000):
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._max_keys = max_keys

    def hit(self, key: str, rule: Rule) -> float:
        now = self._clock()
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self._max_keys:
                self._sweep(now, rule.window)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - rule.window:
            hits.popleft()
        if len(hits) >= rule.limit:
            return hits[0] + rule.window - now
        hits.append(now)
        return 0.0

    def _sweep(self, now: float, window: float) -> None:
        for key in [k for k, h in self._hits.items() if not h or h[-1] <= now - window]:
            del self._hits[key]


def enforce(limiter: RateLimiter, key: str, rule: Rule, what: str) -> None:
    """Count a hit or raise RateLimitedError saying when to try again."""
    wait = limiter.hit(key, rule)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise RateLimitedError(
            f"Too many {what}: at most {rule.limit} in {_span(rule.window)}. "
            f"Try again in {seconds} second{'s' if seconds != 1 else ''}.",
            retry_after=seconds,
        )


def _span(seconds: float) -> str:
    if seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return f"{hours} hour{'s' if hours != 1 else ''}"
    if seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds:g} seconds"
