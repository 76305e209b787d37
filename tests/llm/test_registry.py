"""Choosing a backend by name: built-ins, plug-ins and clear errors."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest

from afterdark.config import LLMSettings
from afterdark.llm import registry
from afterdark.llm.base import LLMBackend, LLMUnavailableError
from afterdark.llm.embedded import EmbeddedBackend
from afterdark.llm.fake import FakeBackend
from afterdark.llm.openai_compat import OpenAICompatBackend


def plugin(name: str, value: str) -> metadata.EntryPoint:
    return metadata.EntryPoint(name=name, value=value, group=registry.ENTRY_POINT_GROUP)


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> list[metadata.EntryPoint]:
    installed: list[metadata.EntryPoint] = []

    def entry_points(*, group: str) -> list[metadata.EntryPoint]:
        return [ep for ep in installed if ep.group == group]

    monkeypatch.setattr(metadata, "entry_points", entry_points)
    return installed


def test_builtins_are_listed() -> None:
    assert registry.DEFAULT_BACKENDS == ("embedded", "openai", "fake")


@pytest.mark.parametrize(
    ("name", "kind"),
    [("embedded", EmbeddedBackend), ("openai", OpenAICompatBackend), ("fake", FakeBackend)],
)
async def test_builtins_are_built(name: str, kind: type) -> None:
    backend = registry.create_backend(LLMSettings(backend=name, context_size=4096))

    assert isinstance(backend, kind)
    assert isinstance(backend, LLMBackend)
    assert backend.name == name
    assert backend.context_size == 4096
    await backend.aclose()


def test_unknown_name_says_how_to_fix_it(plugins: list[metadata.EntryPoint]) -> None:
    with pytest.raises(LLMUnavailableError) as caught:
        registry.create_backend(LLMSettings(backend="gpt5"))

    assert str(caught.value) == (
        "Unknown language-model backend 'gpt5' in AFTERDARK_LLM__BACKEND; "
        "choose one of: embedded, openai, fake."
    )


def test_plugins_register_through_entry_points(plugins: list[metadata.EntryPoint]) -> None:
    plugins.append(plugin("custom", "afterdark.llm.fake:create"))

    backend = registry.create_backend(LLMSettings(backend="custom"))

    assert isinstance(backend, FakeBackend)
    assert registry.available_backends() == ["embedded", "openai", "fake", "custom"]


def test_entry_points_can_be_turned_off(plugins: list[metadata.EntryPoint]) -> None:
    plugins.append(plugin("custom", "afterdark.llm.fake:create"))

    with pytest.raises(LLMUnavailableError, match="choose one of: embedded, openai, fake"):
        registry.create_backend(LLMSettings(backend="custom"), entry_points=False)
    assert registry.available_backends(entry_points=False) == list(registry.DEFAULT_BACKENDS)


def test_plugins_cannot_take_a_builtin_name(plugins: list[metadata.EntryPoint]) -> None:
    plugins.append(plugin("openai", "afterdark.llm.fake:create"))

    backend = registry.create_backend(LLMSettings(backend="openai"))

    assert isinstance(backend, OpenAICompatBackend)


def test_broken_plugin_is_reported(plugins: list[metadata.EntryPoint]) -> None:
    plugins.append(plugin("broken", "afterdark_no_such_module:create"))

    with pytest.raises(LLMUnavailableError, match="plug-in 'broken' failed to load"):
        registry.create_backend(LLMSettings(backend="broken"))


def test_heavy_dependencies_load_only_when_chosen() -> None:
    code = (
        "import sys\n"
        "from afterdark.config import LLMSettings\n"
        "from afterdark.llm.registry import create_backend\n"
        "create_backend(LLMSettings(backend='fake'), entry_points=False)\n"
        "print(sorted(m for m in ('llama_cpp', 'aiohttp') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
