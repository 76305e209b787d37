"""Character-card macros: ``{{char}}``, ``{{user}}`` and the V3 additions.

The text is scanned once, left to right, for ``{{`` / ``}}`` pairs and the legacy
``<BOT>`` / ``<USER>`` tags; a macro's result is never scanned again, so a name that
happens to contain ``{{...}}`` stays literal. Nested macros are expanded innermost
first. Unknown macros and unbalanced braces are kept as written.
"""

from __future__ import annotations

import hashlib
import random
import re

_TOKEN = re.compile(r"\{\{|\}\}|<bot>|<user>", re.IGNORECASE)
_MAX_DEPTH = 4
_ROLL = re.compile(r"\s*[dD]?(\d{1,9})\s*")
# A comma not preceded by a backslash; "\," is a literal comma inside a list.
_LIST_SEP = re.compile(r"(?<!\\),")


def expand_macros(
    text: str,
    *,
    char: str,
    user: str,
    rng_seed: int | str = 0,
    original: str | None = None,
) -> str:
    """Expand card macros in ``text``; random choices depend only on ``rng_seed`` and the text."""
    if "{{" not in text and "<" not in text:
        return text
    expander = _Expander(char=char, user=user, original=original, seed=rng_seed, text=text)
    return expander.run()


class _Expander:
    def __init__(
        self, *, char: str, user: str, original: str | None, seed: int | str, text: str
    ) -> None:
        self.char = char
        self.user = user
        self.original = original
        self.seed = seed
        self.text = text
        self.rng = random.Random(_digest(seed, "random", text))

    def run(self) -> str:
        # Each frame is (offset of its "{{", pieces collected so far); frame 0 is the top level.
        stack: list[tuple[int, list[str]]] = [(-1, [])]
        # Braces nested deeper than _MAX_DEPTH stay literal, which keeps the work linear.
        literal_depth = 0
        pos = 0
        for match in _TOKEN.finditer(self.text):
            pieces = stack[-1][1]
            pieces.append(self.text[pos : match.start()])
            pos = match.end()
            token = match.group().lower()
            if token == "{{" and len(stack) > _MAX_DEPTH:
                literal_depth += 1
                pieces.append(token)
            elif token == "{{":
                stack.append((match.start(), []))
            elif token == "}}" and literal_depth:
                literal_depth -= 1
                pieces.append(token)
            elif token == "}}" and len(stack) > 1:
                start, inner = stack.pop()
                stack[-1][1].append(self.evaluate("".join(inner), start))
            elif token == "}}":
                pieces.append(token)
            else:
                pieces.append(self.char if token == "<bot>" else self.user)
        stack[-1][1].append(self.text[pos:])
        # Unclosed "{{" are kept as written; their frames follow each other in the text.
        return "".join(stack[0][1]) + "".join("{{" + "".join(p) for _, p in stack[1:])

    def evaluate(self, inner: str, offset: int) -> str:
        if inner.lstrip().startswith("//"):
            return ""
        name, colon, arg = inner.partition(":")
        key = name.strip().lower()
        if not colon:
            if key == "char":
                return self.char
            if key == "user":
                return self.user
            if key == "original" and self.original is not None:
                return self.original
        elif key == "random":
            return self.rng.choice(_split_list(arg))
        elif key == "pick":
            choices = _split_list(arg)
            return choices[_digest(self.seed, "pick", offset, inner) % len(choices)]
        elif key == "roll":
            sides = _ROLL.fullmatch(arg)
            if sides and int(sides.group(1)) >= 1:
                return str(self.rng.randint(1, int(sides.group(1))))
        elif key in ("comment", "hidden_key"):
            return ""
        elif key == "reverse":
            return arg[::-1]
        return "{{" + inner + "}}"


def _split_list(arg: str) -> list[str]:
    # SillyTavern's "{{random::a::b}}" form is common in real cards; commas are V3's.
    if arg.startswith(":"):
        return arg[1:].split("::")
    return [item.replace("\\,", ",").strip() for item in _LIST_SEP.split(arg)]


def _digest(*parts: object) -> int:
    joined = "\x00".join(str(part) for part in parts).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(joined, digest_size=8).digest(), "big")
