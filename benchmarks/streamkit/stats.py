"""Figures of the streams (percentiles, gaps, tokens/s) and where the CPU went."""

from __future__ import annotations

import asyncio
import math
import os
import resource
import time
from collections import Counter
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .processes import Stack

T = TypeVar("T")


# ---------------------------------------------------------------------------------------
# Figures


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile of sorted ``values`` (linear interpolation); NaN if empty."""
    if not values:
        return math.nan
    k = (len(values) - 1) * q / 100
    low = math.floor(k)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (k - low)


def ratio(value: float, base: float) -> float:
    return value / base if base and not math.isnan(base) else math.nan


@dataclass(slots=True)
class StreamResult:
    """What the client saw of one streamed reply (times from ``time.perf_counter``)."""

    chat: int
    turn: int
    sent: float = 0.0
    started: float | None = None  # Afterdark's ``start`` event
    arrivals: list[float] = field(default_factory=list)  # reads that brought new tokens
    counts: list[int] = field(default_factory=list)  # tokens in each of those reads
    tokens: int = 0
    events: int = 0  # token events (direct: chunks with content)
    ended: float | None = None
    error: str | None = None

    @property
    def ttft(self) -> float:
        return self.arrivals[0] - self.sent

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / (self.arrivals[-1] - self.sent)


@dataclass
class Figures:
    """Summary of a set of streams of one mode at one level."""

    streams: int = 0  # measured streams
    started: int = 0  # every stream begun, measured or not
    failed: int = 0  # of those begun
    errors: Counter[str] = field(default_factory=Counter)
    ttft: list[float] = field(default_factory=list)  # seconds, sorted
    start: list[float] = field(default_factory=list)  # request -> start event (Afterdark)
    gaps: list[float] = field(default_factory=list)
    tokens_per_s: list[float] = field(default_factory=list)
    tokens: int = 0
    events: int = 0
    arrivals: int = 0
    aggregate: float = math.nan  # tokens/s over all streams while every chat was running
    usage: Usage | None = None
    cpu_us_per_token: float = math.nan  # Afterdark's CPU time per relayed token

    def ms(self, name: str, q: float) -> float:
        values: list[float] = getattr(self, name)
        return percentile(values, q) * 1000

    @property
    def tps(self) -> float:
        return percentile(self.tokens_per_s, 50)

    @property
    def tokens_per_event(self) -> float:
        return self.tokens / self.events if self.events else math.nan

    def to_json(self) -> dict[str, Any]:
        quantiles = (50, 95, 99)
        return {
            "streams_measured": self.streams,
            "streams_started": self.started,
            "failed": self.failed,
            "errors": dict(self.errors),
            "ttft_ms": {f"p{q}": self.ms("ttft", q) for q in quantiles},
            "start_event_ms": {f"p{q}": self.ms("start", q) for q in quantiles},
            "gap_ms": {f"p{q}": self.ms("gaps", q) for q in quantiles},
            "tokens_per_s_per_stream_p50": self.tps,
            "aggregate_tokens_per_s": self.aggregate,
            "tokens": self.tokens,
            "token_events": self.events,
            "arrivals": self.arrivals,
            "usage": None if self.usage is None else self.usage.to_json(),
            "afterdark_cpu_us_per_token": self.cpu_us_per_token,
        }


def summarise(results: Sequence[StreamResult], *, measured: Sequence[StreamResult]) -> Figures:
    """Figures of the ``measured`` streams; failures are counted over all ``results``."""
    figures = Figures(started=len(results))
    for result in results:
        if result.error is not None:
            figures.failed += 1
            figures.errors[result.error] += 1
    for result in measured:
        if result.error is not None or not result.arrivals:
            continue
        figures.streams += 1
        figures.ttft.append(result.ttft)
        if result.started is not None:
            figures.start.append(result.started - result.sent)
        arrivals = result.arrivals
        figures.gaps.extend(b - a for a, b in pairwise(arrivals))
        figures.tokens_per_s.append(result.tokens_per_s)
        figures.tokens += result.tokens
        figures.events += result.events
        figures.arrivals += len(arrivals)
    for values in (figures.ttft, figures.start, figures.gaps, figures.tokens_per_s):
        values.sort()
    return figures


def aggregate_rate(results: Sequence[StreamResult]) -> float:
    """Tokens/s received while every chat was running (first turn begun, last not ended)."""
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    for result in results:
        first[result.chat] = min(first.get(result.chat, math.inf), result.sent)
        end = result.ended or (result.arrivals[-1] if result.arrivals else result.sent)
        last[result.chat] = max(last.get(result.chat, -math.inf), end)
    if not first:
        return math.nan
    begin, end = max(first.values()), min(last.values())
    if end - begin < 0.5:  # no steady state: use the whole run
        begin, end = min(first.values()), max(last.values())
    tokens = sum(
        count
        for result in results
        for at, count in zip(result.arrivals, result.counts, strict=True)
        if begin <= at <= end
    )
    return tokens / (end - begin) if end > begin else math.nan


# ---------------------------------------------------------------------------------------
# CPU accounting


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc); NaN elsewhere."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return math.nan
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy, all cores together (Linux /proc); NaN elsewhere."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return math.nan
    ticks = [int(x) for x in fields[:8]]  # user nice system idle iowait irq softirq steal
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


class LoopLag:
    """How late this client's event loop wakes up: the client's own overload shows here."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def __enter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._watch())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
        self.lags.sort()

    async def _watch(self) -> None:
        clock = time.perf_counter
        while True:
            due = clock() + self.interval
            await asyncio.sleep(self.interval)
            self.lags.append(max(0.0, clock() - due))


@dataclass
class Usage:
    """Where the CPU went during a run, as shares of one core, and the client's loop lag."""

    shares: dict[str, float]  # stand-in, afterdark, client, other (everything else running)
    afterdark_seconds: float
    lags: list[float]  # sorted

    def to_json(self) -> dict[str, Any]:
        return {
            "cpu_share_of_one_core": self.shares,
            "afterdark_cpu_s": self.afterdark_seconds,
            "client_loop_lag_ms": {
                "p99": percentile(self.lags, 99) * 1000,
                "max": (self.lags[-1] if self.lags else math.nan) * 1000,
            },
        }

    def describe(self) -> str:
        shares = ", ".join(f"{name} {share * 100:.0f}%" for name, share in self.shares.items())
        lag = percentile(self.lags, 99) * 1000
        return f"CPU (of one core) {shares}; client loop lag p99 {lag:.0f} ms"


async def measured(stack: Stack, work: Awaitable[T]) -> tuple[T, Usage]:
    """Run ``work``, noting the CPU each process used and how late the client's loop ran."""
    before, started = stack.cpu(), time.perf_counter()
    with LoopLag() as lag:
        value = await work
    wall = time.perf_counter() - started
    spent = {name: seconds - before[name] for name, seconds in stack.cpu().items()}
    ours = spent["stand-in"] + spent["afterdark"] + spent["client"]
    shares = {name: spent[name] / wall for name in ("stand-in", "afterdark", "client")}
    shares["other"] = max(0.0, spent["machine"] - ours) / wall
    return value, Usage(shares, spent["afterdark"], lag.lags)
