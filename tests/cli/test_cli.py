"""The afterdark CLI as a user runs it: the real executable in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PASSWORD

AFTERDARK = str(Path(sys.executable).parent / "afterdark")


def run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AFTERDARK, *args], input=stdin, capture_output=True, text=True, env=env, timeout=120
    )


@pytest.fixture
def env(tmp_path: Path, standin: Any) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AFTERDARK_")}
    return {
        **base,
        "AFTERDARK_DATA_DIR": str(tmp_path / "data"),
        "AFTERDARK_LLM__BACKEND": "openai",
        "AFTERDARK_LLM__BASE_URL": standin.base_url,
        "AFTERDARK_LLM__API_KEY": "sk-cli-secret",
        "AFTERDARK_LLM__MODEL": "standin",
    }


def test_users_create_characters_list_and_chat(env: dict[str, str], standin: Any) -> None:
    created = run(
        ["users", "create", "cli@example.com", "--birthdate", "1991-02-03", "--password-stdin"],
        env,
        stdin=PASSWORD + "\n",
    )
    assert created.returncode == 0, created.stderr
    assert "cli@example.com" in created.stdout
    assert (Path(env["AFTERDARK_DATA_DIR"]) / "afterdark.db").exists()

    listed = run(["characters", "list", "--json"], env)
    characters = json.loads(listed.stdout)
    assert {"id", "name"} <= set(characters[0])
    mara = next(c for c in characters if c["name"] == "Mara Quill")

    standin.reply = "Mind the stairs, they are steep."
    chat = run(["chat", str(mara["id"]), "--user", "cli@example.com", "--message", "Hi!"], env)
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout.strip() == standin.reply
    assert standin.headers[-1]["Authorization"] == "Bearer sk-cli-secret"
    conversation = chat.stderr.strip().split()[-1].rstrip("]")

    standin.reply = "Second reply."
    before = len(standin.requests)  # memory's own requests follow the chat's
    again = run(
        [
            "chat",
            str(mara["id"]),
            "--user",
            "cli@example.com",
            "--message",
            "More?",
            "--conversation",
            conversation,
        ],
        env,
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "Second reply."
    history = [m["content"] for m in standin.requests[before]["messages"][1:]]
    assert history[-3:] == ["Hi!", "Mind the stairs, they are steep.", "More?"]


def test_errors_are_one_line_and_nonzero(env: dict[str, str], standin: Any) -> None:
    minor = run(
        ["users", "create", "kid@example.com", "--birthdate", "2014-01-01", "--password-stdin"],
        env,
        stdin=PASSWORD + "\n",
    )
    assert minor.returncode != 0
    assert (
        minor.stderr.strip()
        == "error: Afterdark is for adults only: you must be 18 or older to sign up."
    )
    bad_date = run(
        ["users", "create", "a@example.com", "--birthdate", "yesterday", "--password-stdin"],
        env,
        stdin=PASSWORD + "\n",
    )
    assert bad_date.returncode == 2
    assert "YYYY-MM-DD" in bad_date.stderr
    nobody = run(["chat", "1", "--user", "ghost@example.com", "--message", "hi"], env)
    assert nobody.returncode == 1
    assert "No account with email ghost@example.com" in nobody.stderr

    run(
        ["users", "create", "u@example.com", "--birthdate", "1990-01-01", "--password-stdin"],
        env,
        stdin=PASSWORD + "\n",
    )
    standin.fail_status = 503
    failed = run(["chat", "1", "--user", "u@example.com", "--message", "hi"], env)
    assert failed.returncode == 1
    assert "503" in failed.stderr


def test_config_show_masks_secrets_and_bad_config_fails(env: dict[str, str]) -> None:
    shown = run(["config", "show"], env)
    assert shown.returncode == 0
    data = json.loads(shown.stdout)
    assert data["llm"]["api_key"] == "********"
    assert "sk-cli-secret" not in shown.stdout
    assert data["llm"]["backend"] == "openai"
    broken = run(["config", "show"], {**env, "AFTERDARK_LLM__CONTEXT_SIZE": "lots"})
    assert broken.returncode == 2
    assert "AFTERDARK_LLM__CONTEXT_SIZE" in broken.stderr


def test_serve_answers_health_and_openapi(env: dict[str, str], tmp_path: Path) -> None:
    import time

    import httpx

    from tests.conftest import free_port

    port = free_port()
    server = subprocess.Popen(
        [AFTERDARK, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert health.status_code == 200
        assert health.json()["llm"]["backend"] == "openai"
        spec = httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()
        assert "/api/v1/conversations/{conversation_id}/messages" in spec["paths"]
    finally:
        server.terminate()
        server.wait(10)
        if server.stderr:
            server.stderr.close()


def test_users_reset_link(env: dict[str, str]) -> None:
    created = run(
        ["users", "create", "reset@example.com", "--birthdate", "1990-01-01", "--password-stdin"],
        env,
        stdin=PASSWORD + "\n",
    )
    assert created.returncode == 0, created.stderr
    link = run(
        ["users", "reset-link", "reset@example.com", "--base-url", "https://ad.example"], env
    )
    assert link.returncode == 0, link.stderr
    assert link.stdout.startswith("https://ad.example/reset#token=adr_")
    missing = run(["users", "reset-link", "nobody@example.com"], env)
    assert missing.returncode == 1
    assert "nobody@example.com" in missing.stderr


def test_users_export_and_import_into_a_fresh_instance(
    env: dict[str, str], tmp_path: Path, standin: Any
) -> None:
    created = run(
        ["users", "create", "move@example.com", "--birthdate", "1990-01-01", "--password-stdin"],
        env,
        stdin=PASSWORD + "\n",
    )
    assert created.returncode == 0, created.stderr
    mara = next(
        c
        for c in json.loads(run(["characters", "list", "--json"], env).stdout)
        if c["name"] == "Mara Quill"
    )
    standin.reply = "The kettle is on."
    chat = run(["chat", str(mara["id"]), "--user", "move@example.com", "--message", "Hello"], env)
    assert chat.returncode == 0, chat.stderr
    archive = tmp_path / "move.zip"
    exported = run(["users", "export", "move@example.com", "--output", str(archive)], env)
    assert exported.returncode == 0, exported.stderr
    assert archive.stat().st_size > 0

    fresh = {**env, "AFTERDARK_DATA_DIR": str(tmp_path / "fresh")}
    restored = run(
        ["users", "import", str(archive), "--password-stdin"], fresh, stdin="n3w-passw0rd\n"
    )
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.strip() == "restored move@example.com"
    again = run(
        ["users", "import", str(archive), "--password-stdin"], fresh, stdin="n3w-passw0rd\n"
    )
    assert again.returncode == 1
    assert "already exists" in again.stderr
    bogus = tmp_path / "bogus.zip"
    bogus.write_bytes(b"not a zip")
    refused = run(
        ["users", "import", str(bogus), "--password-stdin"], fresh, stdin="n3w-passw0rd\n"
    )
    assert refused.returncode == 1
    assert "Not an Afterdark export" in refused.stderr


def test_users_delete_needs_yes(env: dict[str, str]) -> None:
    created = run(
        ["users", "create", "bye@example.com", "--birthdate", "1990-01-01", "--password-stdin"],
        env,
        stdin=PASSWORD + "\n",
    )
    assert created.returncode == 0, created.stderr
    unconfirmed = run(["users", "delete", "bye@example.com"], env)
    assert unconfirmed.returncode == 2
    assert "--yes" in unconfirmed.stderr
    deleted = run(["users", "delete", "bye@example.com", "--yes"], env)
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.strip() == "deleted bye@example.com"
    listed = json.loads(run(["users", "list", "--json"], env).stdout)
    assert "bye@example.com" not in [u["email"] for u in listed]
    again = run(["users", "delete", "bye@example.com", "--yes"], env)
    assert again.returncode == 1
