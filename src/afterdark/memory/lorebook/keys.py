"""Matching one key against scanned text, as SillyTavern does.

- A key written ``/pattern/flags`` is a regular expression (JavaScript-style flags: ``i``,
  ``s``, ``m``, ``u``; ``g`` and ``y`` mean nothing for a yes/no match). With the V3
  ``use_regex`` flag, every key is a pattern, slashes or not. A pattern that does not
  compile matches nothing.
- Otherwise the key is plain text: case-insensitive unless the entry (or book) says
  otherwise; with whole words on, a one-word key must stand between non-word characters,
  while a key with spaces in it is matched as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

Matcher = Callable[[str], bool]
_SLASHED = re.compile(r"^/(.+)/([a-z]*)$", re.DOTALL)
_FLAGS = {"i": re.IGNORECASE, "s": re.DOTALL, "m": re.MULTILINE, "u": 0, "g": 0, "y": 0}


def _never(_: str) -> bool:
    return False


# The same scanned text is checked against every key: fold it once (str hashes are cached).
_fold = lru_cache(maxsize=16)(str.casefold)


@lru_cache(maxsize=4096)
def matcher(key: str, *, case_sensitive: bool, whole_words: bool, use_regex: bool) -> Matcher:
    """A function telling whether ``key`` occurs in a text."""
    slashed = _SLASHED.match(key)
    if slashed or use_regex:
        pattern, flag_letters = (slashed.group(1), slashed.group(2)) if slashed else (key, "")
        flags = 0
        for letter in flag_letters:
            if letter not in _FLAGS:
                return _never
            flags |= _FLAGS[letter]
        if not case_sensitive and not slashed:
            flags |= re.IGNORECASE
        try:
            compiled = re.compile(pattern, flags)
        except (re.error, RecursionError, OverflowError):
            return _never
        return lambda text: compiled.search(text) is not None
    needle = key.strip()
    if not needle:
        return _never
    if whole_words and not re.search(r"\s", needle):
        # A plain substring search first (fast, in C): the word check runs only on a hit.
        flags = 0 if case_sensitive else re.IGNORECASE
        bounded = re.compile(r"(?<!\w)" + re.escape(needle) + r"(?!\w)", flags)
        if case_sensitive:
            return lambda text: needle in text and bounded.search(text) is not None
        folded_needle = needle.casefold()
        return lambda text: folded_needle in _fold(text) and bounded.search(text) is not None
    if case_sensitive:
        return lambda text: needle in text
    folded = needle.casefold()
    return lambda text: folded in _fold(text)


def any_match(keys: list[str], text: str, **options: bool) -> bool:
    return any(matcher(k, **options)(text) for k in keys)


def count_matches(keys: list[str], text: str, **options: bool) -> int:
    return sum(1 for k in keys if matcher(k, **options)(text))
