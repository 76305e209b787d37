"""V3 lorebook decorators: ``@@name value[,value…]`` lines at the top of an entry's content.

A ``@@@name`` line right after a decorator is its fallback, tried in order when the
decorator before it is unknown here. Unknown decorators without a known fallback are
ignored. ``additional_keys`` may repeat (each occurrence is one more AND group).
"""

from __future__ import annotations

from dataclasses import dataclass, field

KNOWN = frozenset(
    {
        "activate_only_after",
        "activate_only_every",
        "keep_activate_after_match",
        "dont_activate_after_match",
        "depth",
        "instruct_depth",
        "reverse_depth",
        "reverse_instruct_depth",
        "role",
        "scan_depth",
        "instruct_scan_depth",
        "is_greeting",
        "position",
        "ignore_on_max_context",
        "additional_keys",
        "exclude_keys",
        "is_user_icon",
        "activate",
        "dont_activate",
        "disable_ui_prompt",
    }
)


@dataclass
class Decorators:
    """The decorators an entry carries (name → values; ``additional_keys`` as groups)."""

    values: dict[str, list[str]] = field(default_factory=dict)
    additional_keys: list[list[str]] = field(default_factory=list)

    def has(self, name: str) -> bool:
        return name in self.values

    def number(self, name: str) -> int | None:
        raw = self.values.get(name)
        if not raw:
            return None
        try:
            return int(raw[0].strip())
        except ValueError:
            return None

    def word(self, name: str) -> str | None:
        raw = self.values.get(name)
        return raw[0].strip().lower() if raw else None


def _split(value: str) -> list[str]:
    """Comma-separated values; ``\\,`` is a literal comma."""
    parts, current, escaped = [], [], False
    for char in value:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def parse(content: str) -> tuple[Decorators, str]:
    """The decorators at the top of ``content`` and the text after them."""
    lines = content.splitlines(keepends=True)
    found = Decorators()
    index = 0
    pending_unknown = False  # the last @@ decorator was unknown: a @@@ fallback may stand in
    while index < len(lines) and lines[index].startswith("@@"):
        line = lines[index].strip()
        index += 1
        fallback = line.startswith("@@@")
        name, _, value = line.lstrip("@").partition(" ")
        name = name.strip().lower()
        if fallback and not pending_unknown:
            continue  # the decorator it stands in for was understood
        if name not in KNOWN:
            pending_unknown = True
            continue
        pending_unknown = False
        values = _split(value)
        if name == "additional_keys":
            found.additional_keys.append(values)
        found.values.setdefault(name, []).extend(values or [""])
    return found, "".join(lines[index:])
