"""``afterdark keys`` as an operator runs it: rotate data keys, re-wrap under a new KEK."""

from __future__ import annotations

import base64
import os
import zipfile
from pathlib import Path

import pytest

from tests.cli.test_cli import run
from tests.conftest import PASSWORD

EMAIL = "keys@example.com"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No model is needed: these commands only touch keys and rows."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("AFTERDARK_")}
    return {**base, "AFTERDARK_DATA_DIR": str(tmp_path / "data")}


def new_kek(path: Path) -> Path:
    path.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    return path


def create_user(env: dict[str, str], email: str = EMAIL) -> None:
    made = run(
        ["users", "create", email, "--birthdate", "1990-01-01", "--password-stdin"],
        env,
        stdin=PASSWORD + "\n",
    )
    assert made.returncode == 0, made.stderr


def persona_of(env: dict[str, str], tmp_path: Path) -> bytes:
    out = tmp_path / "export.zip"
    exported = run(["users", "export", EMAIL, "--output", str(out)], env)
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(out) as archive:
        return archive.read("afterdark-export.json")


def test_rotate_one_or_every_account(env: dict[str, str], tmp_path: Path) -> None:
    create_user(env)
    create_user(env, "other@example.com")
    one = run(["keys", "rotate", EMAIL], env)
    assert one.returncode == 0, one.stderr
    assert one.stdout.strip() == f"{EMAIL}: data key version 2"
    every = run(["keys", "rotate", "--all"], env)
    assert every.stdout.splitlines() == [
        f"{EMAIL}: data key version 3",
        "other@example.com: data key version 2",
    ]
    assert b'"name": "keys"' in persona_of(env, tmp_path)  # still opens
    both = run(["keys", "rotate", EMAIL, "--all"], env)
    assert both.returncode == 2
    assert "or pass --all" in both.stderr
    nobody = run(["keys", "rotate", "nobody@example.com"], env)
    assert nobody.returncode == 1
    assert "nobody@example.com" in nobody.stderr


def test_rewrap_under_a_new_kek(env: dict[str, str], tmp_path: Path) -> None:
    create_user(env)
    assert b'"name": "keys"' in persona_of(env, tmp_path)
    kek = new_kek(tmp_path / "new.kek")
    done = run(["keys", "rewrap", "--new-kek-file", str(kek)], env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("re-wrapped 1 data keys")
    # The old key no longer opens anything, and the instance says so instead of failing later.
    stale = run(["users", "list"], env)
    assert stale.returncode == 2
    assert "wrapped under another key-encryption key" in stale.stderr
    moved = {**env, "AFTERDARK_PRIVACY__KEK_FILE": str(kek)}
    after = persona_of(moved, tmp_path)
    assert b'"name": "keys"' in after
    again = run(["keys", "rewrap", "--new-kek-file", str(kek)], moved)
    assert again.returncode == 2
    assert "the one in use" in again.stderr
    bad = tmp_path / "bad.kek"
    bad.write_text("not base64 at all!")
    refused = run(["keys", "rewrap", "--new-kek-file", str(bad)], moved)
    assert refused.returncode == 2
    assert "not base64" in refused.stderr
