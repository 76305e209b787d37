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
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import orjson

REPO = Path(__file__).resolve().parents[1]
EMAIL = "bench@example.com"
PASSWORD = "benchmark-password"  # a throwaway account in a throwaway data folder
MODEL = "standin-model"
USER_LINE = "Where are we headed, captain?"
DEFAULT_LEVELS = (1, 50, 200, 500, 2000)
QUICK_LEVELS = (1, 50, 200)
# Sampler fields Afterdark sends for the "balanced" preset (a fresh conversation's).
SAMPLER = {"temperature": 0.7, "top_p": 0.9, "repetition_penalty": 1.1}
MAX_TOKENS = 300
CUT_OFF = "cut off at the level's time limit"

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
# Server-sent events as the client reads them


class _Events:
    """Splits a byte stream into SSE events and counts the tokens they carry."""

    __slots__ = ("_tail", "done", "error", "events", "started")

    def __init__(self) -> None:
        self._tail = b""
        self.events = 0
        self.done = False
        self.started = False
        self.error: str | None = None

    def feed(self, data: bytes) -> int:
        """Take the next bytes; return how many new tokens (words) they completed."""
        if self._tail:
            data = self._tail + data
        *events, self._tail = data.split(b"\n\n")
        return sum(self._event(event) for event in events)

    def _event(self, event: bytes) -> int:
        raise NotImplementedError


def _words(text: str) -> int:
    # The stand-in's tokens are words with their leading space, so words count tokens
    # even when Afterdark merged several into one event.
    return len(text.split())


class _OpenAIEvents(_Events):
    __slots__ = ()

    def _event(self, event: bytes) -> int:
        if not event.startswith(b"data:"):
            return 0
        payload = event[5:].strip()
        if payload == b"[DONE]":
            self.done = True
            return 0
        chunk = orjson.loads(payload)
        if chunk.get("error"):
            self.error = f"backend error: {chunk['error']}"
            return 0
        choices = chunk.get("choices")
        text = (choices[0].get("delta") or {}).get("content") if choices else None
        if not text:
            return 0
        self.events += 1
        return _words(text)


class _AfterdarkEvents(_Events):
    __slots__ = ()

    def _event(self, event: bytes) -> int:
        name, data = b"message", b""
        for line in event.split(b"\n"):
            if line.startswith(b"event:"):
                name = line[6:].strip()
            elif line.startswith(b"data:"):
                data = line[5:].strip()
        if name == b"token":
            self.events += 1
            return _words(orjson.loads(data)["text"])
        if name == b"start":
            self.started = True
        elif name == b"done":
            self.done = True
            status = orjson.loads(data).get("status")
            if status != "complete":
                self.error = f"reply ended {status}"
        return 0


async def stream_reply(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: dict[str, str],
    events: _Events,
    result: StreamResult,
) -> None:
    """POST ``body`` and read the streamed reply into ``result`` (errors included)."""
    clock = time.perf_counter
    result.sent = clock()
    try:
        async with session.post(url, data=body, headers=headers) as response:
            if response.status not in (200, 201):
                text = (await response.text())[:120].replace("\n", " ")
                result.error = f"HTTP {response.status}: {text}"
                return
            content = response.content
            while data := await content.readany():
                now = clock()
                new = events.feed(data)
                if events.started and result.started is None:
                    result.started = now
                if new:
                    result.arrivals.append(now)
                    result.counts.append(new)
                    result.tokens += new
                if events.done and result.ended is None:
                    result.ended = now
            result.events = events.events
            if events.error is not None:
                result.error = events.error
            elif not events.done:
                result.error = "stream ended without its final event"
            elif not result.arrivals:
                result.error = "no tokens"
    except asyncio.CancelledError:
        result.error = CUT_OFF
        raise
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError, KeyError) as exc:
        # ValueError and KeyError: an event that is not the JSON it should be.
        result.error = f"{type(exc).__name__}: {exc}"[:120]


# ---------------------------------------------------------------------------------------
# The two processes under test


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


@dataclass
class Stack:
    """The stand-in and Afterdark, running."""

    standin: subprocess.Popen[bytes]
    afterdark: subprocess.Popen[bytes]
    standin_url: str  # .../v1
    afterdark_url: str
    token: str
    folder: Path

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of each process, and of the whole machine."""
        return {
            "stand-in": cpu_seconds(self.standin.pid),
            "afterdark": cpu_seconds(self.afterdark.pid),
            "client": own_cpu_seconds(),
            "machine": machine_busy_seconds(),
        }


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


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url} did not start (exit {process.returncode}):\n{_log_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {timeout:g} s:\n{_log_tail(log)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@contextlib.contextmanager
def running_stack(args: argparse.Namespace) -> Iterator[Stack]:
    """Start the stand-in and Afterdark in a fresh data folder; stop both afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="afterdark-bench-"))
    standin_port, afterdark_port = free_port(), free_port()
    while afterdark_port == standin_port:
        afterdark_port = free_port()
    standin_url = f"http://127.0.0.1:{standin_port}/v1"
    env = {
        **os.environ,
        "AFTERDARK_DATA_DIR": str(folder / "data"),
        "AFTERDARK_LLM__BACKEND": "openai",
        "AFTERDARK_LLM__BASE_URL": standin_url,
        "AFTERDARK_LLM__MODEL": MODEL,
    }
    env.pop("AFTERDARK_CONFIG_FILE", None)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        standin_log = folder / "standin.log"
        with standin_log.open("wb") as log:
            standin = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.support.openai_standin",
                    "--port",
                    str(standin_port),
                    "--tokens",
                    str(args.tokens),
                    "--token-delay",
                    str(args.token_delay),
                ],
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        processes.append(standin)

        def cli(*command: str, stdin: bytes = b"") -> str:
            done = subprocess.run(
                [args.afterdark, *command], input=stdin, env=env, cwd=folder, capture_output=True
            )
            if done.returncode != 0:
                error = done.stderr.decode(errors="replace").strip()
                raise SystemExit(f"afterdark {' '.join(command[:2])} failed: {error}")
            return done.stdout.decode().strip()

        birthdate = ("--birthdate", "1990-01-01", "--password-stdin")
        cli("users", "create", EMAIL, *birthdate, stdin=f"{PASSWORD}\n".encode())
        token = cli("users", "token", EMAIL, "--name", "benchmark")
        server_log = folder / "afterdark.log"
        with server_log.open("wb") as log:
            server = subprocess.Popen(
                [args.afterdark, "serve", "--host", "127.0.0.1", "--port", str(afterdark_port)]
                + ["--log-level", args.server_log_level],
                env=env,
                cwd=folder,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        processes.append(server)
        _wait_http(f"{standin_url}/models", standin, standin_log, 30)
        afterdark_url = f"http://127.0.0.1:{afterdark_port}"
        _wait_http(f"{afterdark_url}/healthz", server, server_log, 60)
        yield Stack(standin, server, standin_url, afterdark_url, token, folder)
    finally:
        for process in reversed(processes):
            _stop(process)
        if args.keep:
            print(f"kept {folder} (logs and database)")
        else:
            shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# Chats


@dataclass
class Client:
    """The one HTTP client and what both modes need to send a turn."""

    session: aiohttp.ClientSession
    stack: Stack
    character_id: int
    direct_messages: list[dict[str, str]]
    _bodies: dict[int, bytes] = field(default_factory=dict)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.stack.token}"}

    async def api(self, method: str, path: str, body: Any = None) -> Any:
        async with self.session.request(
            method,
            self.stack.afterdark_url + path,
            data=None if body is None else orjson.dumps(body),
            headers={**self.auth, "Content-Type": "application/json"},
        ) as response:
            data = await response.read()
            if response.status >= 400:
                raise SystemExit(f"{method} {path} answered {response.status}: {data[:300]!r}")
            return orjson.loads(data) if data else None

    def direct_body(self, max_tokens: int) -> bytes:
        # What Afterdark's openai backend sends, built from the same character card.
        body = self._bodies.get(max_tokens)
        if body is None:
            body = self._bodies[max_tokens] = orjson.dumps(
                {
                    "messages": self.direct_messages,
                    "stream": True,
                    "stream_options": {"include_usage": True},
                    "max_tokens": max_tokens,
                    "model": MODEL,
                    **SAMPLER,
                }
            )
        return body

    async def direct_turn(self, result: StreamResult, max_tokens: int = MAX_TOKENS) -> None:
        await stream_reply(
            self.session,
            f"{self.stack.standin_url}/chat/completions",
            self.direct_body(max_tokens),
            {"Content-Type": "application/json", "Accept": "text/event-stream"},
            _OpenAIEvents(),
            result,
        )

    async def afterdark_turn(self, result: StreamResult, conversation: int) -> None:
        await stream_reply(
            self.session,
            f"{self.stack.afterdark_url}/api/v1/conversations/{conversation}/messages?stream=true",
            orjson.dumps({"content": USER_LINE}),
            {**self.auth, "Content-Type": "application/json"},
            _AfterdarkEvents(),
            result,
        )

    async def conversations(self, count: int, max_tokens: int | None = None) -> list[int]:
        """Create ``count`` conversations (not timed), optionally with a shorter reply."""
        semaphore = asyncio.Semaphore(16)

        async def one() -> int:
            async with semaphore:
                created = await self.api(
                    "POST", "/api/v1/conversations", {"character_id": self.character_id}
                )
                if max_tokens is not None:
                    sampler = {**created["sampler"], "max_tokens": max_tokens}
                    await self.api(
                        "PATCH", f"/api/v1/conversations/{created['id']}", {"sampler": sampler}
                    )
                return int(created["id"])

        return list(await asyncio.gather(*(one() for _ in range(count))))


def card_messages(card: dict[str, Any], user_name: str = "User") -> list[dict[str, str]]:
    """A prompt like Afterdark's: card in a system message, the greeting, the user's line."""

    def fill(text: str) -> str:
        return text.replace("{{char}}", card["name"]).replace("{{user}}", user_name)

    system = [
        card.get("system_prompt")
        or "You are {{char}} in an ongoing fictional roleplay with {{user}}. Stay in character.",
        card.get("description", ""),
        f"{card['name']}'s personality: {card.get('personality', '')}",
        f"Scenario: {card.get('scenario', '')}",
        card.get("example_dialogue", ""),
    ]
    return [
        {"role": "system", "content": fill("\n\n".join(part for part in system if part))},
        {"role": "assistant", "content": fill(card.get("first_message", ""))},
        {"role": "user", "content": USER_LINE},
    ]


# ---------------------------------------------------------------------------------------
# Levels

MODES = ("direct", "afterdark")


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


# ---------------------------------------------------------------------------------------
# Report


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


# ---------------------------------------------------------------------------------------
# Main


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
