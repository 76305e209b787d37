"""Example dialogue (a card's ``mes_example``) parsed into blocks of chat turns."""

from __future__ import annotations

import re

from afterdark.chat.macros import expand_macros
from afterdark.llm.base import ChatMessage, Role

_START = re.compile(r"[ \t]*<start>[ \t]*", re.IGNORECASE)
_MACRO_PREFIX = re.compile(
    r"^[ \t]*(?:\{\{(char|user)\}\}|<(bot|user)>)[ \t]*:", re.IGNORECASE | re.MULTILINE
)
# Private-use characters mark speaker prefixes written as macros, so that a line
# keeps its speaker even when the character and the persona share a name.
_MARK: dict[Role, str] = {"assistant": "\ue000", "user": "\ue001"}
_MARKS = "".join(_MARK.values())


def parse_example_dialogue(
    text: str, *, char: str, user: str, rng_seed: int | str = 0
) -> list[list[ChatMessage]]:
    """Split example dialogue on ``<START>`` lines into blocks of user/assistant turns."""
    text = text.translate({ord(mark): None for mark in _MARKS})
    text = _MACRO_PREFIX.sub(_mark_prefix, text)
    text = expand_macros(text, char=char, user=user, rng_seed=rng_seed)
    blocks: list[list[ChatMessage]] = []
    turns: list[tuple[Role, list[str]]] = []
    for line in text.splitlines():
        if _START.fullmatch(line):
            blocks.append(_finish(turns))
            turns = []
            continue
        role, rest = _speaker(line, char=char, user=user)
        if role is not None:
            turns.append((role, [rest]))
        elif turns:
            turns[-1][1].append(line)
        elif line.strip():
            # Narration before anyone speaks reads as the character's.
            turns.append(("assistant", [line]))
    blocks.append(_finish(turns))
    return [block for block in blocks if block]


def _mark_prefix(match: re.Match[str]) -> str:
    who = (match.group(1) or match.group(2)).lower()
    return _MARK["user" if who == "user" else "assistant"]


def _speaker(line: str, *, char: str, user: str) -> tuple[Role | None, str]:
    stripped = line.lstrip()
    for role, mark in _MARK.items():
        if stripped.startswith(mark):
            return role, stripped[1:]
    names: tuple[tuple[Role, str], ...] = (("assistant", char), ("user", user))
    for role, name in names:
        if name and stripped.startswith(name + ":"):
            return role, stripped[len(name) + 1 :]
    return None, line


def _finish(turns: list[tuple[Role, list[str]]]) -> list[ChatMessage]:
    messages = [ChatMessage(role, "\n".join(lines).strip()) for role, lines in turns]
    return [message for message in messages if message.content]
