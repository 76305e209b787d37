"""The levels: one stream at a time, and many chats at once, in both modes."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .client import Client
from .constants import CUT_OFF, MAX_TOKENS, MODES
from .stats import Figures, StreamResult, aggregate_rate, measured, summarise


@dataclass
class LevelResult:
    chats: int
    direct: Figures
    afterdark: Figures
    note: str = ""
    direct_saturated: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "chats": self.chats,
            "note": self.note,
            "direct_saturated": self.direct_saturated,
            "direct": self.direct.to_json(),
            "afterdark": self.afterdark.to_json(),
        }


async def one_turn(
    client: Client, mode: str, result: StreamResult, conversation: int, max_tokens: int
) -> StreamResult:
    if mode == "direct":
        await client.direct_turn(result, max_tokens)
    else:
        await client.afterdark_turn(result, conversation)
    return result


async def single_stream(client: Client, args: argparse.Namespace) -> LevelResult:
    """One chat at a time: short replies for TTFT, whole replies for tokens/s and gaps."""
    afterdark = "afterdark" in args.modes
    short_ids = await client.conversations(args.single_runs if afterdark else 0, args.short_tokens)
    full_ids = await client.conversations(args.single_full_runs if afterdark else 0)
    short: dict[str, list[StreamResult]] = {mode: [] for mode in MODES}
    full: dict[str, list[StreamResult]] = {mode: [] for mode in MODES}

    async def work() -> None:
        # The modes take turns, so a change in the machine's speed hits both alike.
        for index in range(args.single_runs):
            for mode in args.modes:
                conversation = short_ids[index] if afterdark else 0
                result = StreamResult(index, 0)
                await one_turn(client, mode, result, conversation, args.short_tokens)
                short[mode].append(result)
        for index in range(args.single_full_runs):
            for mode in args.modes:
                conversation = full_ids[index] if afterdark else 0
                result = StreamResult(index, 0)
                full[mode].append(await one_turn(client, mode, result, conversation, MAX_TOKENS))

    _, usage = await measured(client.stack, work())
    figures: dict[str, Figures] = {}
    for mode in MODES:
        ttft = summarise(short[mode], measured=short[mode])
        whole = summarise(full[mode], measured=full[mode])
        whole.ttft, whole.start = ttft.ttft, ttft.start
        whole.failed += ttft.failed
        whole.started += ttft.started
        whole.errors += ttft.errors
        whole.streams += ttft.streams
        whole.aggregate = whole.tps
        whole.usage = usage
        figures[mode] = whole
    note = (
        f"TTFT from {args.single_runs} sequential {args.short_tokens}-token replies per mode, "
        f"gaps and tok/s from {args.single_full_runs} whole replies; the modes take turns"
    )
    return LevelResult(1, figures["direct"], figures["afterdark"], note)


async def run_chats(
    client: Client,
    mode: str,
    offsets: Sequence[float],
    turns: int,
    conversations: Sequence[int],
    limit: float,
) -> list[StreamResult]:
    """Each chat waits for its offset, then sends ``turns`` messages back to back."""
    results: list[StreamResult] = []

    async def chat(index: int) -> None:
        await asyncio.sleep(offsets[index])
        conversation = conversations[index] if conversations else 0
        for turn in range(turns):
            result = StreamResult(index, turn)
            results.append(result)
            await one_turn(client, mode, result, conversation, MAX_TOKENS)

    tasks = [asyncio.create_task(chat(index)) for index in range(len(offsets))]
    _, pending = await asyncio.wait(tasks, timeout=limit)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return results


async def concurrent_level(client: Client, chats: int, args: argparse.Namespace) -> LevelResult:
    """``chats`` chats at once, each sending ``turns`` messages back to back."""
    turns = args.turns
    duration = args.tokens * args.token_delay  # one reply at the stand-in's pace
    spread = duration if args.arrival == "staggered" else 0.0
    offsets = [spread * index / chats for index in range(chats)]
    limit = args.level_timeout or spread + turns * (2 * duration + 5) + 20
    conversations = await client.conversations(chats if "afterdark" in args.modes else 0)
    figures = {mode: Figures() for mode in MODES}
    for mode in args.modes:
        work = run_chats(client, mode, offsets, turns, conversations, limit)
        results, usage = await measured(client.stack, work)
        # The first turns ramp up and the last ones wind down: keep the middle ones.
        middle = [r for r in results if 0 < r.turn < turns - 1] if turns >= 3 else results
        figures[mode] = summarise(results, measured=middle)
        figures[mode].aggregate = aggregate_rate(results)
        figures[mode].usage = usage
        total = sum(result.tokens for result in results)
        if mode == "afterdark" and total:
            figures[mode].cpu_us_per_token = usage.afterdark_seconds / total * 1e6
        if any(result.error == CUT_OFF for result in results):
            await asyncio.sleep(duration)  # let Afterdark finish the replies it was left with
        await asyncio.sleep(args.pause)
    how = f"started {spread / chats * 1000:.1f} ms apart" if spread else "all started at once"
    kept = f"turns 2..{turns - 1}" if turns >= 3 else "every turn"
    note = f"{turns} turns per chat back to back, {how}; per-stream figures from {kept}"
    return LevelResult(chats, figures["direct"], figures["afterdark"], note)
