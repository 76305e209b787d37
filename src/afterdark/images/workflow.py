"""ComfyUI workflows: finding them, checking them, and filling their placeholders.

A workflow is a graph in ComfyUI's API format (the "Save (API Format)" export): node id ->
``{"class_type": ..., "inputs": {...}}``, where an input is a literal or a link
``[node id, output index]``. String inputs may hold placeholders, filled per render:

    {{prompt}} {{negative}} {{reference}}          text
    {{seed}} {{width}} {{height}} {{steps}}         int when the whole string is the placeholder
    {{guidance}}                                    float when the whole string is the placeholder
    {{extra.NAME}}                                  text from ``RenderRequest.extra`` ("" if absent)

Inside a longer string every placeholder is substituted as text ("a {{extra.style}} photo").
``{{reference}}`` becomes the uploaded reference image's name as ``LoadImage`` wants it.

Besides its nodes a workflow may carry one key of ours, ``"afterdark"``, removed before the
graph is queued (ComfyUI would refuse a node without ``class_type``)::

    "afterdark": {
      "identity": "instantid",              # what RenderRequest.reference is used for
      "description": "...",                 # documentation only
      "custom_nodes": ["https://..."],      # documentation only: node packs to install
      "models": {"checkpoints": ["..."]},   # documentation only: ComfyUI/models/<folder>
      "without_reference": {"bypass": {"15": {"0": "model", "1": "positive"}}}
    }

``without_reference`` is the fallback for a request without a reference face (a character
whose face is not set yet): each bypassed node is removed and whatever read its output N
reads the node's input named for N instead, then nodes nobody reads any more (the face
loaders, the ``LoadImage``) are dropped. A workflow that uses ``{{reference}}`` and has no
fallback refuses such a request with a ``WorkflowError``.

Workflows are looked up by name: ``<workflows_dir>/<name>.json`` first (the user's own),
then the shipped ``workflows/`` folder next to this module.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from afterdark.images.base import ImageError, RenderRequest

SHIPPED_DIR = Path(__file__).with_name("workflows")
META_KEY = "afterdark"

Graph = dict[str, dict[str, Any]]
Bypass = dict[str, dict[str, str]]  # node id -> {output index: input name}

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_]\w*(?:\.[\w-]+)?)\s*\}\}")
_WHOLE = re.compile(r"\s*" + _PLACEHOLDER.pattern + r"\s*")
_NUMBERS: dict[str, type[int] | type[float]] = {
    "seed": int,
    "width": int,
    "height": int,
    "steps": int,
    "guidance": float,
}
_TEXTS = ("prompt", "negative", "reference")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_META_KEYS = ("identity", "description", "custom_nodes", "models", "without_reference")


class WorkflowError(ImageError):
    """A workflow is missing, malformed, or cannot serve this request."""


@dataclass(frozen=True, slots=True)
class Workflow:
    """One checked workflow, ready to be filled for each render."""

    name: str
    path: Path
    graph: Graph
    identity: str = ""
    bypass: Bypass = field(default_factory=dict)

    @property
    def uses_reference(self) -> bool:
        """Whether the graph reads the reference face (has a ``{{reference}}``)."""
        return any("reference" in _placeholders(node) for node in self.graph.values())

    def fill(self, request: RenderRequest, reference: str | None) -> Graph:
        """The graph to queue for ``request``; ``reference`` is the uploaded image's name."""
        graph = self.graph
        if self.uses_reference and reference is None:
            if not self.bypass:
                raise WorkflowError(
                    f"The ComfyUI workflow '{self.name}' needs a reference face and this "
                    "character has none yet; set one, or choose a workflow without one "
                    "(sdxl_basic)."
                )
            graph = _bypass(graph, self.bypass, self.name)
        values = _values(request, reference or "")
        filled: Graph = {}
        for node_id, node in graph.items():
            inputs = {
                key: _fill(value, values) if isinstance(value, str) else copy.deepcopy(value)
                for key, value in node["inputs"].items()
            }
            filled[node_id] = {**copy.deepcopy(node), "inputs": inputs}
        return filled


def available(workflows_dir: Path | None) -> list[str]:
    """Names of every workflow on offer, the user's and the shipped ones."""
    folders = [d for d in (workflows_dir, SHIPPED_DIR) if d is not None and d.is_dir()]
    return sorted({p.stem for d in folders for p in d.glob("*.json") if _NAME.fullmatch(p.stem)})


def load(name: str, workflows_dir: Path | None = None) -> Workflow:
    """The workflow called ``name``, checked; raises ``WorkflowError`` saying what is wrong."""
    if not _NAME.fullmatch(name):
        raise WorkflowError(f"'{name}' is not a workflow name (letters, digits, _ . - only).")
    for folder in (workflows_dir, SHIPPED_DIR):
        if folder is not None and (folder / f"{name}.json").is_file():
            return parse(name, folder / f"{name}.json")
    names = ", ".join(available(workflows_dir)) or "none"
    where = f" in {workflows_dir} or" if workflows_dir is not None else ""
    raise WorkflowError(
        f"There is no ComfyUI workflow '{name}'{where} among the shipped ones; available: {names}."
    )


def parse(name: str, path: Path) -> Workflow:
    """Read and check one workflow file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WorkflowError(f"The ComfyUI workflow {path} could not be read: {exc}.") from None
    if not isinstance(data, dict):
        raise WorkflowError(f"The ComfyUI workflow {path} is not a JSON object of nodes.")
    if "nodes" in data and "links" in data:
        raise WorkflowError(
            f"The ComfyUI workflow {path} is in the editor's format; export it with "
            "'Save (API Format)' instead."
        )
    meta = data.pop(META_KEY, {})
    graph = _check_graph(data, path)
    identity, bypass = _check_meta(meta, graph, path)
    workflow = Workflow(name=name, path=path, graph=graph, identity=identity, bypass=bypass)
    if bypass:
        _bypass(graph, bypass, name)  # a broken fallback should fail now, not mid-chat
    return workflow


def _check_graph(data: dict[str, Any], path: Path) -> Graph:
    if not data:
        raise WorkflowError(f"The ComfyUI workflow {path} has no nodes.")
    for node_id, node in data.items():
        if not (
            isinstance(node, dict)
            and isinstance(node.get("class_type"), str)
            and isinstance(node.get("inputs"), dict)
        ):
            raise WorkflowError(
                f"The ComfyUI workflow {path} is not a JSON object of nodes: '{node_id}' "
                "lacks a class_type or inputs."
            )
        for key, value in node["inputs"].items():
            if _is_link(value) and str(value[0]) not in data:
                raise WorkflowError(
                    f"The ComfyUI workflow {path}: input '{key}' of node {node_id} links to "
                    f"node {value[0]}, which does not exist."
                )
        unknown = sorted(_placeholders(node) - {*_NUMBERS, *_TEXTS} - _extras(node))
        if unknown:
            known = ", ".join(f"{{{{{n}}}}}" for n in (*_TEXTS, *_NUMBERS, "extra.NAME"))
            raise WorkflowError(
                f"The ComfyUI workflow {path} uses an unknown placeholder "
                f"{{{{{unknown[0]}}}}} in node {node_id}; known: {known}."
            )
    return data


def _check_meta(meta: Any, graph: Graph, path: Path) -> tuple[str, Bypass]:
    if not isinstance(meta, dict) or set(meta) - set(_META_KEYS):
        raise WorkflowError(
            f"The '{META_KEY}' key of the ComfyUI workflow {path} must be an object with "
            f"only these keys: {', '.join(_META_KEYS)}."
        )
    identity = meta.get("identity", "")
    fallback = meta.get("without_reference", {})
    bypass = fallback.get("bypass", {}) if isinstance(fallback, dict) else None
    valid = (
        isinstance(identity, str)
        and isinstance(bypass, dict)
        and all(
            node_id in graph
            and isinstance(outputs, dict)
            and all(k.isdigit() and isinstance(v, str) for k, v in outputs.items())
            for node_id, outputs in bypass.items()
        )
    )
    if not valid:
        raise WorkflowError(
            f"The '{META_KEY}' key of the ComfyUI workflow {path} is malformed: identity is "
            'text, without_reference is {"bypass": {"<node id>": {"<output>": "<input>"}}} '
            "naming nodes of the graph."
        )
    return identity, bypass if isinstance(bypass, dict) else {}


def _bypass(graph: Graph, bypass: Bypass, name: str) -> Graph:
    """The graph without the bypassed nodes and whatever only they read."""
    read_before = _linked(graph)
    graph = copy.deepcopy(graph)
    for node_id, outputs in bypass.items():
        node = graph.pop(node_id)
        for other_id, other in graph.items():
            for key, value in other["inputs"].items():
                if not (_is_link(value) and str(value[0]) == node_id):
                    continue
                source = node["inputs"].get(outputs.get(str(value[1]), ""))
                if not _is_link(source):
                    raise WorkflowError(
                        f"The ComfyUI workflow '{name}' cannot bypass node {node_id}: node "
                        f"{other_id} reads its output {value[1]}, which the fallback does not "
                        "map to a linked input."
                    )
                other["inputs"][key] = list(source)
    while orphans := [n for n in graph if n in read_before and n not in _linked(graph)]:
        for node_id in orphans:
            del graph[node_id]
    if any("reference" in _placeholders(node) for node in graph.values()):
        raise WorkflowError(
            f"The ComfyUI workflow '{name}' still reads {{{{reference}}}} after its "
            "without_reference bypass."
        )
    return graph


def _values(request: RenderRequest, reference: str) -> dict[str, str | int | float]:
    values: dict[str, str | int | float] = {
        "prompt": request.prompt,
        "negative": request.negative,
        "reference": reference,
        "seed": request.seed,
        "width": request.width,
        "height": request.height,
        "steps": request.steps,
        "guidance": float(request.guidance),
    }
    values.update({f"extra.{k}": v for k, v in request.extra.items()})
    return values


def _fill(text: str, values: dict[str, str | int | float]) -> str | int | float:
    whole = _WHOLE.fullmatch(text)
    if whole is not None and whole.group(1) in _NUMBERS:
        return values[whole.group(1)]
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), "")), text)


def _placeholders(node: dict[str, Any]) -> set[str]:
    return {
        match.group(1)
        for value in node["inputs"].values()
        if isinstance(value, str)
        for match in _PLACEHOLDER.finditer(value)
    }


def _extras(node: dict[str, Any]) -> set[str]:
    return {name for name in _placeholders(node) if name.startswith("extra.")}


def _is_link(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str | int)
        and isinstance(value[1], int)
    )


def _linked(graph: Graph) -> set[str]:
    """Ids of the nodes whose output some node reads."""
    return {
        str(value[0])
        for node in graph.values()
        for value in node["inputs"].values()
        if _is_link(value)
    }
