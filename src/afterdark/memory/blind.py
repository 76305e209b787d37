"""The blind index's terms: words of a memory, each replaced by a keyed hash.

Memory text is sealed, so the full-text index may not hold it. Each word is normalised
(NFKC, lower case, a light stemmer, stop words out) and replaced by HMAC-SHA256 under the
owner's *index key*, truncated to 64 bits and written in lowercase base32 after a letter:
ASCII letters and digits only, so FTS5's ``ascii`` tokenizer and PostgreSQL's ``simple``
configuration each keep a term as one token. Equal words still give equal terms, so BM25
works unchanged; without the key a term says nothing, and shredding the user's keys makes
the index noise.

The index key comes from the user's data key version 1: rotation adds versions but keeps
version 1, so the index never has to be rebuilt when keys rotate.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import unicodedata
import weakref
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from afterdark.privacy.cipher import SealError
from afterdark.privacy.keyring import Keyring

INDEX_KEY_VERSION = 1
_LABEL = b"afterdark-blind-index"
TERM_BYTES = 8

# Runs of letters or digits in any script (``\w`` less the underscore).
_WORD = re.compile(r"[^\W_]+")

STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing don down during each few
    for from further had has have having he her here hers herself him himself his how i if
    in into is it its itself just let me more most my myself no nor not now of off on once
    only or other our ours ourselves out over own same she should so some such than that
    the their theirs them themselves then there these they this those through to too under
    until up very was we were what when where which while who whom why will with would you
    your yours yourself yourselves ll re ve
    """.split()
)

# Derived index keys per keyring and user, next to the data key they came from: a
# shredded and re-created key (a new user on a reused id) is noticed, not trusted.
_index_keys: weakref.WeakKeyDictionary[Keyring, dict[int, tuple[bytes, bytes]]] = (
    weakref.WeakKeyDictionary()
)


def stem(word: str) -> str:
    """A light suffix stemmer (plurals, -ing, -ed, final -e and -y), nothing clever."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "ches", "shes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        root = word[: -len(suffix)]
        # The root must keep a vowel ("sing", "shed", "bring" stay whole).
        if word.endswith(suffix) and len(root) >= 3 and any(c in "aeiouy" for c in root):
            word = root
            # "running" -> "runn" -> "run"; "fall", "kiss" and "buzz" keep their pair.
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouslz":
                word = word[:-1]
            break
    # Endings that vary between forms meet here: "make", "making" -> "mak"; "party",
    # "parties", "married", "marry" -> "parti", "marri". Cheaper than Porter's rules.
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    if len(word) > 3 and word.endswith("y"):
        word = word[:-1] + "i"
    return word


def tokenize(text: str) -> list[str]:
    """The normalised words of a text, in order and with repeats (term frequency counts)."""
    words = _WORD.findall(unicodedata.normalize("NFKC", text).lower())
    tokens: list[str] = []
    for word in words:
        if word.isdigit():
            tokens.append(word)  # numbers (years, ages, counts) are kept as they are
        elif len(word) > 1 and word not in STOP_WORDS:
            tokens.append(stem(word))
    return tokens


def derive_index_key(data_key: bytes) -> bytes:
    """The blind-index key from a user's data key (version 1)."""
    return hmac.new(data_key, _LABEL, hashlib.sha256).digest()


def blind_term(index_key: bytes, token: str) -> str:
    """One token as its blind term: "b" and 64 bits of HMAC-SHA256 in lowercase base32."""
    digest = hmac.new(index_key, token.encode("utf-8"), hashlib.sha256).digest()[:TERM_BYTES]
    # The leading letter matters: PostgreSQL's parser reads "32e6viaezo4p2" as the number
    # 32e6 and a word, while a term that starts with a letter is always one word.
    return "b" + base64.b32encode(digest).decode("ascii").rstrip("=").lower()


def blind_terms(index_key: bytes, tokens: Iterable[str]) -> list[str]:
    """Blind terms of tokens, in order; equal tokens are hashed once."""
    seen: dict[str, str] = {}
    out: list[str] = []
    for token in tokens:
        term = seen.get(token)
        if term is None:
            term = seen[token] = blind_term(index_key, token)
        out.append(term)
    return out


async def index_key(session: AsyncSession, keyring: Keyring, user_id: int) -> bytes | None:
    """The user's index key; None when the user has no data key (nothing indexed yet)."""
    try:
        data_key = await keyring.key(session, user_id, INDEX_KEY_VERSION)
    except SealError:
        return None
    per_user = _index_keys.setdefault(keyring, {})
    cached = per_user.get(user_id)
    if cached is not None and hmac.compare_digest(cached[0], data_key):
        return cached[1]
    derived = derive_index_key(data_key)
    per_user[user_id] = (data_key, derived)
    return derived


def forget(keyring: Keyring, user_id: int) -> None:
    """Drop a user's derived index key from memory (after the user's keys are shredded)."""
    _index_keys.get(keyring, {}).pop(user_id, None)
