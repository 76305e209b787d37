"""``afterdark cards import|export|inspect`` as a user runs them: the real executable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from afterdark.characters.cards import read_card_file
from tests.conftest import PASSWORD
from tests.support.shared import CARDS

AFTERDARK = str(Path(sys.executable).parent / "afterdark")


def run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AFTERDARK, *args], input=stdin, capture_output=True, text=True, env=env, timeout=120
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AFTERDARK_")}
    return {**base, "AFTERDARK_DATA_DIR": str(tmp_path / "data"), "AFTERDARK_LLM__BACKEND": "fake"}


def test_import_export_inspect(env: dict[str, str], tmp_path: Path) -> None:
    created = run(
        ["users", "create", "cards@example.com", "--birthdate", "1990-01-01", "--password-stdin"],
        env,
        stdin=PASSWORD + "\n",
    )
    assert created.returncode == 0, created.stderr
    bad = tmp_path / "notes.txt"
    bad.write_text("just some notes")
    files = [CARDS / "st_default_Seraphina.png", CARDS / "card-architect_test-card_v3.json", bad]
    result = run(["cards", "import", *map(str, files), "--user", "cards@example.com"], env)
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].isdigit()
    assert lines[1].isdigit()
    assert lines[2].startswith(f"error: {bad}: ")
    assert "not a character card" in lines[2]

    ok = run(["cards", "import", str(CARDS / "choral_Default-chan_v3.png")], env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.strip().isdigit()
    listed = json.loads(run(["characters", "list", "--json"], env).stdout)
    assert next(c for c in listed if c["id"] == int(ok.stdout))["age"] == 19  # stated in the card
    young = run(["cards", "import", str(CARDS / "st_default_FluxTheCat.png"), "--age", "12"], env)
    assert young.returncode == 1
    assert "adult" in young.stdout
    aged = run(["cards", "import", str(CARDS / "st_default_FluxTheCat.png"), "--age", "21"], env)
    assert aged.returncode == 0
    listed = json.loads(run(["characters", "list", "--json"], env).stdout)
    assert next(c for c in listed if c["id"] == int(aged.stdout))["age"] == 21

    for cid, source, fmt in [
        (lines[0], "st_default_Seraphina.png", "png"),
        (lines[1], "card-architect_test-card_v3.json", "json"),
    ]:
        out = tmp_path / f"out.{fmt}"
        exported = run(["cards", "export", cid, "--format", fmt, "--output", str(out)], env)
        assert exported.returncode == 0, exported.stderr
        original = read_card_file((CARDS / source).read_bytes(), source).card.data
        assert read_card_file(out.read_bytes(), out.name).card.data == original
        inspected = run(["cards", "inspect", str(out)], env)
        assert inspected.returncode == 0
        assert json.loads(inspected.stdout) == original

    charx = tmp_path / "seraphina.charx"
    assert (
        run(
            [
                "cards",
                "export",
                lines[0],
                "--format",
                "charx",
                "--spec",
                "v3",
                "--output",
                str(charx),
            ],
            env,
        ).returncode
        == 0
    )
    assert read_card_file(charx.read_bytes(), "x.charx").card.spec == "v3"


def test_inspect_prints_the_text_exactly(env: dict[str, str]) -> None:
    path = CARDS / "st_default_Seraphina.png"
    result = run(["cards", "inspect", str(path)], env)
    assert result.returncode == 0
    assert result.stdout.rstrip("\n") == read_card_file(path.read_bytes(), path.name).card.text
    assert "\r\n" in json.loads(result.stdout)["data"]["description"]


def test_cli_errors_name_the_problem(env: dict[str, str], tmp_path: Path) -> None:
    missing = run(["cards", "inspect", str(tmp_path / "nope.png")], env)
    assert missing.returncode != 0
    assert "nope.png" in missing.stderr
    bad_format = run(
        ["cards", "export", "1", "--format", "gif", "--output", str(tmp_path / "x")], env
    )
    assert bad_format.returncode == 2
    assert "--format" in bad_format.stderr
    unknown = run(
        ["cards", "export", "9999", "--format", "json", "--output", str(tmp_path / "x")], env
    )
    assert unknown.returncode == 1
    assert "9999" in unknown.stderr
    nouser = run(
        ["cards", "import", str(CARDS / "st_default_Seraphina.png"), "--user", "ghost@example.com"],
        env,
    )
    assert nouser.returncode == 1
