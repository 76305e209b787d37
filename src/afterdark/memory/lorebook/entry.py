"""One lorebook entry as the engine sees it, read from a stored ``character_book`` entry.

Books are kept in the V3 shape with SillyTavern's extra fields in each entry's
``extensions`` (characters/cards/sillytavern.py names them). Where both a V3 field and a
SillyTavern extension exist, the extension is what SillyTavern itself acted on, and wins.

SillyTavern positions: 0 before the character, 1 after it, 2/3 before/after the author's
note, 4 at a depth in the chat with a role, 5/6 before/after the example messages. There is
no author's note or separate example block here, so 2, 3, 5 and 6 go after the character.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from afterdark.memory.lorebook.decorators import Decorators, parse

Logic = Literal["and_any", "not_all", "not_any", "and_all"]
Placement = Literal["before", "after", "depth"]
Role = Literal["system", "user", "assistant"]

_LOGIC: tuple[Logic, ...] = ("and_any", "not_all", "not_any", "and_all")
_ROLES: tuple[Role, ...] = ("system", "user", "assistant")
DEFAULT_DEPTH = 4


@dataclass
class Entry:
    uid: str
    index: int  # its place in the book: ties of insertion_order keep the book's order
    content: str
    keys: list[str]
    secondary: list[str]
    selective: bool
    logic: Logic
    constant: bool
    order: float
    priority: float
    placement: Placement
    depth: int
    role: Role
    case_sensitive: bool | None
    whole_words: bool | None
    use_regex: bool
    scan_depth: int | None
    probability: float
    groups: list[str]
    group_override: bool
    group_weight: float
    group_scoring: bool | None
    exclude_recursion: bool
    prevent_recursion: bool
    delay_until_recursion: int  # 0: no; n: only from recursion step n on
    sticky: int
    cooldown: int
    delay: int
    decorators: Decorators = field(default_factory=Decorators)

    @property
    def forced(self) -> bool | None:
        """``@@activate`` (True), ``@@dont_activate`` (False), or neither (None)."""
        if self.decorators.has("dont_activate"):
            return False
        if self.decorators.has("activate"):
            return True
        return None


def _number(value: Any, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return float(value)


def _int(value: Any, default: int = 0) -> int:
    return int(_number(value, default))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str | int | float) and str(v).strip()]
    return []


def _optional_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def from_book(raw: dict[str, Any], index: int) -> Entry | None:
    """The engine's view of a stored entry; None when it is disabled or unusable."""
    if raw.get("enabled", True) is False:
        return None
    ext = raw.get("extensions")
    ext = ext if isinstance(ext, dict) else {}
    if ext.get("disable") is True:
        return None
    decorators, text = parse(str(raw.get("content", "")))

    placement: Placement = "after" if raw.get("position") == "after_char" else "before"
    st_position = ext.get("position")
    if isinstance(st_position, int) and not isinstance(st_position, bool):
        placement = {0: "before", 4: "depth"}.get(st_position, "after")  # type: ignore[assignment]
    depth = _int(ext.get("depth"), DEFAULT_DEPTH)
    role_index = _int(ext.get("role"), 0)
    role: Role = _ROLES[role_index] if 0 <= role_index < len(_ROLES) else "system"

    # Decorators override what the fields say.
    where = decorators.word("position")
    if where in ("before_desc",):
        placement = "before"
    elif where in ("after_desc", "personality", "scenario"):
        placement = "after"
    if decorators.has("depth") and (n := decorators.number("depth")) is not None:
        placement, depth = "depth", max(n, 0)
    if (word := decorators.word("role")) in _ROLES:
        role = word

    logic_index = _int(ext.get("selectiveLogic"), 0)
    scan_depth = decorators.number("scan_depth")
    if scan_depth is None and ext.get("scan_depth") is not None:
        scan_depth = _int(ext.get("scan_depth"))
    use_probability = ext.get("useProbability", True) is not False
    probability = _number(ext.get("probability"), 100.0) if use_probability else 100.0
    delay_recursion = ext.get("delay_until_recursion", 0)
    return Entry(
        uid=str(raw.get("id", index)),
        index=index,
        content=text,
        keys=_strings(raw.get("keys")),
        secondary=_strings(raw.get("secondary_keys")),
        selective=raw.get("selective", True) is not False,
        logic=_LOGIC[logic_index] if 0 <= logic_index < len(_LOGIC) else "and_any",
        constant=raw.get("constant") is True,
        order=_number(raw.get("insertion_order"), 100.0),
        priority=_number(raw.get("priority"), _number(raw.get("insertion_order"), 100.0)),
        placement=placement,
        depth=depth,
        role=role,
        case_sensitive=_optional_bool(ext.get("case_sensitive", raw.get("case_sensitive"))),
        whole_words=_optional_bool(ext.get("match_whole_words")),
        use_regex=raw.get("use_regex") is True,
        scan_depth=scan_depth,
        probability=min(max(probability, 0.0), 100.0),
        groups=[g.strip() for g in str(ext.get("group") or "").split(",") if g.strip()],
        group_override=ext.get("group_override") is True,
        group_weight=max(_number(ext.get("group_weight"), 100.0), 0.0),
        group_scoring=_optional_bool(ext.get("use_group_scoring")),
        exclude_recursion=ext.get("exclude_recursion") is True,
        prevent_recursion=ext.get("prevent_recursion") is True,
        delay_until_recursion=(1 if delay_recursion is True else max(_int(delay_recursion), 0)),
        sticky=max(_int(ext.get("sticky")), 0),
        cooldown=max(_int(ext.get("cooldown")), 0),
        delay=max(_int(ext.get("delay")), 0),
        decorators=decorators,
    )
