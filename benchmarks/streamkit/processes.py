"""The two processes under test: the stand-in and ``afterdark serve``, with a user."""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .constants import EMAIL, MODEL, PASSWORD, REPO
from .stats import cpu_seconds, machine_busy_seconds, own_cpu_seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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
        # Thousands of chats from one benchmark account: the per-user reply cap would bite.
        "AFTERDARK_CHAT__GENERATIONS_PER_MINUTE": "100000",
        # Loading the hard limits' classifier is a start-up cost (seconds of imports) that
        # would land in the first level's figures; lorem replies never need it afterwards.
        "AFTERDARK_SAFETY__WARM_CLASSIFIER": "false",
        # Memory's after-reply work sends its own requests to the stand-in (see --memory).
        "AFTERDARK_MEMORY__ENABLED": "true" if getattr(args, "memory", False) else "false",
        # Every reply is held and charged in Sparks, as in the product (off: --no-sparks);
        # the benchmark account's free allowance covers every chat of every level.
        "AFTERDARK_SPARKS__ENABLED": "false" if getattr(args, "no_sparks", False) else "true",
        "AFTERDARK_SPARKS__DAILY_ALLOWANCE": "1000000",
        "AFTERDARK_SPARKS__DAILY_CAP": "1000000",
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
