"""What is printed: each level's table, the speed targets and the final summary line."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .levels import LevelResult
from .stats import ratio


def _f(value: float, digits: int = 1) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def _x(value: float, base: float, digits: int = 2) -> str:
    return _f(ratio(value, base), digits)


def print_level(level: LevelResult, args: argparse.Namespace) -> None:
    d, a = level.direct, level.afterdark
    print(f"\n== {level.chats:,} concurrent chat{'s' if level.chats > 1 else ''}: {level.note}")
    print(
        f"{'':10} {'TTFT ms p50':>11} {'p95':>7} {'p99':>7} | {'gap ms p50':>10} {'p99':>7}"
        f" | {'tok/s/stream':>12} {'agg tok/s':>9} | {'tok/event':>9} {'failed':>10}"
    )
    for name, fig in (("direct", d), ("afterdark", a)):
        counted = f"{fig.failed}/{fig.started}"
        print(
            f"{name:10} {_f(fig.ms('ttft', 50)):>11} {_f(fig.ms('ttft', 95)):>7}"
            f" {_f(fig.ms('ttft', 99)):>7} | {_f(fig.ms('gaps', 50)):>10}"
            f" {_f(fig.ms('gaps', 99)):>7} | {_f(fig.tps, 2):>12} {_f(fig.aggregate, 0):>9}"
            f" | {_f(fig.tokens_per_event, 2):>9} {counted:>10}"
        )
    print(
        f"{'ratio':10} {_x(a.ms('ttft', 50), d.ms('ttft', 50)):>11}"
        f" {_x(a.ms('ttft', 95), d.ms('ttft', 95)):>7}"
        f" {_x(a.ms('ttft', 99), d.ms('ttft', 99)):>7}"
        f" | {_x(a.ms('gaps', 50), d.ms('gaps', 50)):>10}"
        f" {_x(a.ms('gaps', 99), d.ms('gaps', 99)):>7}"
        f" | {_x(a.tps, d.tps, 3):>12} {_x(a.aggregate, d.aggregate, 3):>9} |"
    )
    notes = [
        f"added TTFT p50 {_f(a.ms('ttft', 50) - d.ms('ttft', 50))} ms,"
        f" p95 {_f(a.ms('ttft', 95) - d.ms('ttft', 95))} ms"
    ]
    if a.start:
        notes.append(f"Afterdark's start event (request handled) at {_f(a.ms('start', 50))} ms p50")
    if not math.isnan(a.cpu_us_per_token):
        notes.append(
            f"Afterdark CPU {a.cpu_us_per_token:.0f} µs per relayed token, requests included"
        )
    print("  " + "; ".join(notes))
    if level.chats == 1 and d.usage is not None:
        print(f"  both modes: {d.usage.describe()}")
    else:
        for name, fig in (("direct", d), ("afterdark", a)):
            if fig.usage is not None:
                print(f"  {name} run: {fig.usage.describe()}")
    if a.usage is not None and a.usage.shares["afterdark"] >= 0.9 and level.chats > 1:
        print("  Afterdark used a whole core: its one event loop was the bottleneck")
    for name, fig in (("direct", d), ("afterdark", a)):
        for error, count in fig.errors.most_common(3):
            print(f"  {name} failures: {count} × {error}")
    if level.direct_saturated:
        print(
            f"  WARNING: the direct baseline is saturated at {level.chats:,} chats (tokens/s per"
            " stream under 0.9 × one stream's, or gap p99 over 1.5 × the stand-in's pace): the"
            " stand-in and the client cannot carry"
            f" {level.chats:,} × {1 / args.token_delay:g} tok/s on this machine, so the ratios"
            " at this level compare two overloaded systems."
        )


@dataclass(frozen=True)
class Target:
    label: str
    chats: int
    measure: Callable[[LevelResult], float]
    limit: float
    unit: str  # "x" for a ratio, " ms" for added time
    at_least: bool = False


TARGETS = (
    Target(
        "1 stream: tokens/s >= 0.98 x direct",
        1,
        lambda level: ratio(level.afterdark.tps, level.direct.tps),
        0.98,
        "x",
        at_least=True,
    ),
    Target(
        "1 stream: added TTFT at p95 <= 10 ms",
        1,
        lambda level: level.afterdark.ms("ttft", 95) - level.direct.ms("ttft", 95),
        10.0,
        " ms",
    ),
    Target(
        "200 streams: TTFT p50 <= 1.5 x direct",
        200,
        lambda level: ratio(level.afterdark.ms("ttft", 50), level.direct.ms("ttft", 50)),
        1.5,
        "x",
    ),
    Target(
        "200 streams: gap p99 <= 1.3 x direct",
        200,
        lambda level: ratio(level.afterdark.ms("gaps", 99), level.direct.ms("gaps", 99)),
        1.3,
        "x",
    ),
    Target(
        "2,000 chats: gap p99 <= 1.5 x the backend's p99 gap",
        2000,
        lambda level: ratio(level.afterdark.ms("gaps", 99), level.direct.ms("gaps", 99)),
        1.5,
        "x",
    ),
)


@dataclass
class Verdict:
    target: Target
    value: float
    verdict: str  # PASS, FAIL or SKIP
    note: str

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target.label,
            "measured": self.value,
            "verdict": self.verdict,
            "note": self.note,
        }


def judge(levels: dict[int, LevelResult]) -> list[Verdict]:
    verdicts = []
    for target in TARGETS:
        level = levels.get(target.chats)
        if level is None:
            verdicts.append(Verdict(target, math.nan, "SKIP", "level not run"))
            continue
        value = target.measure(level)
        notes = []
        ok = value >= target.limit if target.at_least else value <= target.limit
        if level.afterdark.failed:
            # A level where Afterdark dropped streams does not meet its target.
            failed, started = level.afterdark.failed, level.afterdark.started
            notes.append(f"{failed} of {started} Afterdark streams failed")
            ok = False
        if level.direct_saturated:
            notes.append("direct baseline saturated")
        verdict = "SKIP" if math.isnan(value) else "PASS" if ok else "FAIL"
        verdicts.append(Verdict(target, value, verdict, "; ".join(notes)))
    return verdicts


def print_summary(levels: dict[int, LevelResult]) -> list[Verdict]:
    print("\n== Summary: direct / Afterdark, and Afterdark as a multiple of direct (same run)")
    print(
        f"{'chats':>6} | {'TTFT p50 ms':>17} {'x':>5} | {'TTFT p95 ms':>17} {'x':>5}"
        f" | {'gap p50 ms':>15} {'x':>5} | {'gap p99 ms':>15} {'x':>5}"
        f" | {'tok/s x':>7} | {'failed':>9}"
    )
    for chats, level in levels.items():
        d, a = level.direct, level.afterdark
        cells = []
        for name, q, width in (
            ("ttft", 50, 17),
            ("ttft", 95, 17),
            ("gaps", 50, 15),
            ("gaps", 99, 15),
        ):
            pair = f"{_f(d.ms(name, q))}/{_f(a.ms(name, q))}"
            cells.append(f"{pair:>{width}} {_x(a.ms(name, q), d.ms(name, q)):>5}")
        flag = "  (direct saturated)" if level.direct_saturated else ""
        print(
            f"{chats:>6,} | " + " | ".join(cells) + f" | {_x(a.tps, d.tps, 3):>7}"
            f" | {f'{d.failed}/{a.failed}':>9}{flag}"
        )
    verdicts = judge(levels)
    print("\n== Targets (printed, never asserted)")
    for v in verdicts:
        value = "-" if math.isnan(v.value) else f"{v.value:.3f}{v.target.unit}"
        note = f"  ({v.note})" if v.note else ""
        print(f"  {v.verdict:4}  {v.target.label:52} measured {value}{note}")
    return verdicts


def summary_line(levels: dict[int, LevelResult], verdicts: list[Verdict], elapsed: float) -> str:
    judged = [v for v in verdicts if v.verdict != "SKIP"]
    met = sum(v.verdict == "PASS" for v in judged)
    parts = []
    for chats, level in levels.items():
        d, a = level.direct, level.afterdark
        part = (
            f"{chats}: TTFT p50 {_x(a.ms('ttft', 50), d.ms('ttft', 50))}x,"
            f" gap p99 {_x(a.ms('gaps', 99), d.ms('gaps', 99))}x,"
            f" tok/s {_x(a.tps, d.tps, 3)}x"
        )
        if a.failed:
            part += f", {a.failed} failed"
        parts.append(part)
    return (
        f"streaming: {met}/{len(judged)} targets met ({elapsed:.0f} s, {os.cpu_count()} cores) | "
        + "; ".join(parts)
    )
