"""Map the configured backend name to an implementation.

Built-ins are listed in ``DEFAULT_BACKENDS``; plug-ins add theirs under the
``afterdark.backends`` entry-point group, each entry point naming a factory
``(LLMSettings) -> LLMBackend``::

    [project.entry-points."afterdark.backends"]
    mybackend = "my_package.backend:create"

A built-in's module (and so llama_cpp or aiohttp) is imported only when chosen.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib import metadata

from afterdark.config import LLMSettings
from afterdark.llm.base import LLMBackend, LLMUnavailableError

BackendFactory = Callable[[LLMSettings], LLMBackend]

ENTRY_POINT_GROUP = "afterdark.backends"
DEFAULT_BACKENDS: tuple[str, ...] = ("embedded", "openai", "fake")

# Built-in name -> module holding its `create` factory.
_BUILTIN_MODULES = {
    "embedded": "afterdark.llm.embedded",
    "openai": "afterdark.llm.openai_compat",
    "fake": "afterdark.llm.fake",
}


def plugin_entry_points() -> dict[str, metadata.EntryPoint]:
    """Installed plug-in backends by name (built-in names cannot be taken over)."""
    found = metadata.entry_points(group=ENTRY_POINT_GROUP)
    return {ep.name: ep for ep in found if ep.name not in DEFAULT_BACKENDS}


def available_backends(*, entry_points: bool = True) -> list[str]:
    """Every backend name that ``create_backend`` accepts."""
    names = list(DEFAULT_BACKENDS)
    if entry_points:
        names.extend(sorted(plugin_entry_points()))
    return names


def backend_factory(name: str, *, entry_points: bool = True) -> BackendFactory:
    """The factory registered under ``name``; LLMUnavailableError when there is none."""
    if name in _BUILTIN_MODULES:
        factory: BackendFactory = importlib.import_module(_BUILTIN_MODULES[name]).create
        return factory
    plugins = plugin_entry_points() if entry_points else {}
    if name in plugins:
        try:
            loaded: BackendFactory = plugins[name].load()
        except Exception as exc:  # a broken plug-in must not look like a typo
            message = f"The backend plug-in {name!r} failed to load: {exc}"
            raise LLMUnavailableError(message) from exc
        return loaded
    known = ", ".join(available_backends(entry_points=entry_points))
    raise LLMUnavailableError(
        f"Unknown language-model backend {name!r} in AFTERDARK_LLM__BACKEND; "
        f"choose one of: {known}."
    )


def create_backend(settings: LLMSettings, *, entry_points: bool = True) -> LLMBackend:
    """Build the backend that ``settings.backend`` names."""
    return backend_factory(settings.backend, entry_points=entry_points)(settings)
