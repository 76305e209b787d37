from __future__ import annotations

import pytest

from afterdark.errors import RateLimitedError
from afterdark.safety.ratelimit import MemoryRateLimiter, Rule, enforce


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sliding_window_counts_and_frees_up() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)
    rule = Rule(limit=3, window=60)
    assert [limiter.hit("k", rule) for _ in range(3)] == [0, 0, 0]
    assert limiter.hit("k", rule) == pytest.approx(60)
    assert limiter.hit("other", rule) == 0  # keys are separate
    clock.now += 30
    assert limiter.hit("k", rule) == pytest.approx(30)  # still full: refused hits do not count
    clock.now += 30.001
    assert limiter.hit("k", rule) == 0


def test_idle_keys_are_swept_at_the_cap() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock, max_keys=10)
    rule = Rule(limit=1, window=5)
    for n in range(10):
        limiter.hit(f"k{n}", rule)
    clock.now += 10
    limiter.hit("new", rule)
    assert len(limiter._hits) == 1


def test_enforce_says_when_to_come_back() -> None:
    limiter = MemoryRateLimiter(Clock())
    rule = Rule(limit=1, window=900)
    enforce(limiter, "k", rule, "login attempts")
    with pytest.raises(RateLimitedError) as caught:
        enforce(limiter, "k", rule, "login attempts")
    assert str(caught.value) == (
        "Too many login attempts: at most 1 in 15 minutes. Try again in 900 seconds."
    )
    assert caught.value.retry_after == 900
