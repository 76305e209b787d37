"""The atheris harness in fuzz/ runs a short bounded session without finding a crash."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.shared import REPO

FUZZ = REPO / "fuzz"


def test_corpus_seeds_are_small_and_present() -> None:
    seeds = sorted((FUZZ / "corpus").iterdir())
    assert {seed.read_bytes()[:1] for seed in seeds} == {b"\0", b"\1", b"\2", b"\3"}
    assert all(seed.stat().st_size < 4096 for seed in seeds)


def test_fuzz_harness_runs_clean(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"
    shutil.copytree(FUZZ / "corpus", corpus)
    result = subprocess.run(
        [
            sys.executable,
            str(FUZZ / "fuzz_cards.py"),
            "-runs=20000",
            "-seed=1",
            "-rss_limit_mb=1024",
            "-timeout=10",
            str(corpus),
        ],
        cwd=tmp_path,  # crash files, if any, land here rather than in the repository
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Done 20000 runs" in result.stderr
    assert not list(tmp_path.glob("crash-*"))
