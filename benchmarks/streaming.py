"""Streaming benchmark: Afterdark versus a loopback OpenAI-compatible stand-in.

Starts the stand-in (``tests.support.openai_standin``) and ``afterdark serve`` as
subprocesses, then streams the same replies two ways from one aiohttp client:

* **direct**: ``POST /v1/chat/completions`` on the stand-in, with a prompt like the one
  Afterdark sends (the same character card, sampler fields and ``include_usage``);
* **afterdark**: ``POST /api/v1/conversations/{id}/messages?stream=true`` on Afterdark,
  which sends the request to the same stand-in and relays the tokens as SSE.

It measures, per stream, the time to first token (request sent to first token
received), the gaps between token arrivals and tokens/s, at each concurrency level,
and prints Afterdark's figures as ratios against the direct figures of the same run.
Speed targets are printed, never asserted.

Run from the repository root::

    .venv/bin/python benchmarks/streaming.py            # 1, 50, 200, 500 and 2,000 chats
    .venv/bin/python benchmarks/streaming.py --quick    # 1, 50 and 200 chats

This file is the entry point (the flags, the run, the JSON); the parts it puts together
live in ``benchmarks/streamkit/``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

# The parts live in benchmarks/streamkit/: make them importable however this file is run.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from streamkit.client import Client, card_messages
from streamkit.constants import DEFAULT_LEVELS, MODES, QUICK_LEVELS
from streamkit.levels import LevelResult, concurrent_level, one_turn, single_stream
from streamkit.processes import Stack, raise_fd_limit, running_stack
from streamkit.report import print_level, print_summary, summary_line
from streamkit.stats import Figures, StreamResult


async def benchmark(stack: Stack, args: argparse.Namespace) -> dict[int, LevelResult]:
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=60)
    # Idle connections are dropped well before uvicorn's 5 s keep-alive ends, so a turn never
    # picks a connection the server is closing (a failure that would be the client's fault).
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, keepalive_timeout=2)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        probe = Client(session, stack, 0, [])
        summaries = await probe.api("GET", "/api/v1/characters")
        card = await probe.api("GET", f"/api/v1/characters/{summaries[0]['id']}")
        client = Client(session, stack, int(card["id"]), card_messages(card))
        # Warm both paths up: the tokenizer's vocabulary, connection pools, first queries.
        for conversation in await client.conversations(3, max_tokens=2):
            for mode in args.modes:
                await one_turn(client, mode, StreamResult(0, 0), conversation, 2)
        levels: dict[int, LevelResult] = {}
        for chats in args.levels:
            if chats == 1:
                level = await single_stream(client, args)
            else:
                level = await concurrent_level(client, chats, args)
                level.direct_saturated = saturated(level.direct, levels.get(1), args)
            levels[chats] = level
            print_level(level, args)
        return levels


def saturated(direct: Figures, single: LevelResult | None, args: argparse.Namespace) -> bool:
    """Whether the stand-in and client fell behind their own pace (the baseline is unsound)."""
    reference = single.direct.tps if single is not None else 1 / args.token_delay
    slow = direct.tps < 0.9 * reference
    jittery = direct.ms("gaps", 99) > 1.5 * args.token_delay * 1000
    return slow or jittery


def _levels(text: str) -> tuple[int, ...]:
    levels = tuple(int(part) for part in text.split(",") if part.strip())
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("levels are positive integers, e.g. 1,50,200")
    return levels


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Streaming through Afterdark versus straight from an OpenAI-compatible "
        "stand-in: time to first token, gaps between tokens and tokens/s, as ratios.",
    )
    parser.add_argument(
        "--levels", type=_levels, default=None, help="concurrent chats per level (1,50,...)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="levels 1, 50 and 200, fewer single-stream runs"
    )
    parser.add_argument("--tokens", type=int, default=48, help="tokens (words) in each reply")
    parser.add_argument(
        "--token-delay", type=float, default=0.2, help="seconds between the stand-in's tokens"
    )
    parser.add_argument("--turns", type=int, default=3, help="messages each chat sends per level")
    parser.add_argument(
        "--arrival",
        choices=("staggered", "burst"),
        default="staggered",
        help="chats start evenly spread over one reply's duration (default), or all at once",
    )
    parser.add_argument(
        "--modes",
        type=lambda text: tuple(m for m in MODES if m in text.split(",")),
        default=MODES,
        help="direct,afterdark (direct alone calibrates the baseline)",
    )
    parser.add_argument("--single-runs", type=int, default=40, help="1 stream: TTFT samples")
    parser.add_argument("--single-full-runs", type=int, default=2, help="1 stream: whole replies")
    parser.add_argument("--short-tokens", type=int, default=1, help="reply length of TTFT runs")
    parser.add_argument("--level-timeout", type=float, default=0.0, help="seconds per mode")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between runs")
    parser.add_argument("--server-log-level", default="warning", help="for afterdark serve")
    parser.add_argument(
        "--afterdark",
        default=str(Path(sys.executable).with_name("afterdark")),
        help="the afterdark executable (default: the one beside this Python)",
    )
    parser.add_argument(
        "--memory",
        action="store_true",
        help="keep memory on: after each reply it embeds the turn and asks the stand-in for "
        "facts, so the stand-in serves more than the chats (off: the relay alone is measured; "
        "benchmarks/memory_locomo.py measures memory)",
    )
    parser.add_argument(
        "--no-sparks",
        action="store_true",
        help="replies are free: no Spark hold at the start and no charge at the end",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the data folder and logs")
    args = parser.parse_args(argv)
    if args.levels is None:
        args.levels = QUICK_LEVELS if args.quick else DEFAULT_LEVELS
    if args.quick:
        args.single_runs = min(args.single_runs, 20)
        args.single_full_runs = min(args.single_full_runs, 1)
    if args.token_delay <= 0 or args.tokens < 2:
        parser.error("--token-delay must be > 0 and --tokens >= 2: gaps need a paced stream")
    if not args.modes:
        parser.error("--modes names direct, afterdark or both")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    fds = raise_fd_limit()
    if max(args.levels) * 3 + 100 > fds:
        raise SystemExit(f"{max(args.levels):,} chats need more than {fds} file descriptors")
    started = time.perf_counter()
    rate = 1 / args.token_delay
    print(
        f"Afterdark streaming benchmark: {args.tokens}-token replies at {rate:g} tok/s per stream"
        f" ({args.token_delay * 1000:g} ms apart), levels {', '.join(map(str, args.levels))},"
        f" {args.arrival} starts"
    )
    print(
        f"{os.cpu_count()} cores shared by the stand-in, Afterdark and this client (one process"
        f" each; Afterdark idles during direct runs); offered load at {max(args.levels):,} chats:"
        f" {max(args.levels) * rate:,.0f} tok/s and {max(args.levels) / (args.tokens / rate):,.0f}"
        " new messages/s"
    )
    with running_stack(args) as stack:
        levels = _event_loop_runner()(benchmark(stack, args))
    verdicts = print_summary(levels)
    if args.json is not None:
        settings = {k: v for k, v in vars(args).items() if k not in ("json", "afterdark")}
        payload = {
            "machine": {"cores": os.cpu_count()},
            "settings": settings,
            "levels": {str(chats): level.to_json() for chats, level in levels.items()},
            "targets": [verdict.to_json() for verdict in verdicts],
        }
        args.json.write_text(json.dumps(payload, indent=2, default=str))
    print()
    print(summary_line(levels, verdicts, time.perf_counter() - started))


def _event_loop_runner() -> Callable[[Any], Any]:
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


if __name__ == "__main__":
    main()
