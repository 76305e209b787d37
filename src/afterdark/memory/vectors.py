"""Memory vectors: stored sealed as float16, searched in process per scope.

A vector never reaches a shared index in plaintext: it lives in the memory's sealed value
(base64 of little-endian float16) and is opened into an in-memory matrix for one
(user, character) scope the first time that scope is searched. Index and unindex keep the
cached matrices up to date in this process; a byte budget evicts the scopes used least
recently.

Search is an exact cosine top-k with numpy (rows are L2-normalised) up to EXACT_ROWS rows.
Past that, reading the whole float32 matrix is what costs (100k x 384 is 150 MiB: 10-15 ms
of memory bandwidth a query on the 2-core benchmark machine), so the rows are first ranked
by the Hamming distance of their sign bits (1/32 of the bytes, about 2 ms at 100k) and the
best PREFILTER_ROWS of them are scored exactly. For LoCoMo questions over 100k memories
that top 50 held 98.3% (MiniLM) and 98.5% (WordLlama) of the exact top 50, and recall@10
was unchanged (docs/benchmarks.md).
"""

from __future__ import annotations

import base64
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, Engine, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from afterdark.memory.models import Memory
from afterdark.privacy.keyring import Keyring, Pending
from afterdark.privacy.sealing import open_fields

Matrix = npt.NDArray[np.float32]
Ids = npt.NDArray[np.int64]
Codes = npt.NDArray[np.uint64]
ScopeKey = tuple[int, int | None, str]
"""(user id, character id or None for the user-wide scope, embedder name)."""

CACHE_BYTES = 512 * 2**20
"""Decrypted matrices kept per process, all scopes together (100k x 384 is 150 MiB)."""
EXACT_ROWS = 20_000
"""Scopes up to this size are scanned exactly; bigger ones are prefiltered by sign bits."""
PREFILTER_ROWS = 2_000
"""Rows scored exactly after the sign-bit prefilter (at least 40 per result wanted)."""


def encode_vector(vector: npt.NDArray[np.floating]) -> str:
    """A vector as stored: base64 of little-endian float16."""
    return base64.b64encode(np.asarray(vector, dtype="<f2").tobytes()).decode("ascii")


def decode_vector(data: str) -> Matrix:
    """A stored vector back as float32."""
    return np.frombuffer(base64.b64decode(data), dtype="<f2").astype(np.float32)


def sign_codes(rows: Matrix) -> Codes:
    """Each row's sign bits packed into 64-bit words (padded with zero bits)."""
    bits = np.packbits(rows > 0, axis=1)
    pad = -bits.shape[1] % 8
    if pad:
        bits = np.pad(bits, ((0, 0), (0, pad)))
    return np.ascontiguousarray(bits).view(np.uint64)


@dataclass(frozen=True)
class Snapshot:
    """A scope's vectors at one moment; later changes never edit what it holds, except
    that a re-indexed row may be overwritten in place (a search sees either vector)."""

    ids: Ids
    matrix: Matrix
    codes: Codes

    def __len__(self) -> int:
        return len(self.ids)

    def rank(self, query: Matrix, n: int) -> list[tuple[int, float]]:
        """The n rows most similar to a normalised query: (id, cosine), best first."""
        if n <= 0 or not len(self.ids) or query.shape[0] != self.matrix.shape[1]:
            return []
        query = query.astype(np.float32, copy=False)
        if len(self.ids) > EXACT_ROWS:
            rows = self._prefilter(query, max(PREFILTER_ROWS, 40 * n))
            scores = self.matrix[rows] @ query
        else:
            rows = None
            scores = self.matrix @ query
        n = min(n, len(scores))
        best = np.argpartition(-scores, n - 1)[:n] if len(scores) > n else np.arange(n)
        best = best[np.argsort(-scores[best], kind="stable")]
        at = best if rows is None else rows[best]
        return [(int(self.ids[i]), float(scores[j])) for i, j in zip(at, best, strict=True)]

    def cosines(self, query: Matrix, ids: Sequence[int]) -> dict[int, float]:
        """The cosine of each of ``ids`` held here (the lexical side's candidates)."""
        if not ids or not len(self.ids) or query.shape[0] != self.matrix.shape[1]:
            return {}
        asked = np.asarray(ids, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.ids, asked), len(self.ids) - 1)
        held = self.ids[at] == asked
        scores = self.matrix[at[held]] @ query.astype(np.float32, copy=False)
        return {int(i): float(v) for i, v in zip(asked[held], scores, strict=True)}

    def _prefilter(self, query: Matrix, keep: int) -> npt.NDArray[np.intp]:
        """Indices of the ``keep`` rows whose sign bits differ least from the query's."""
        wanted = sign_codes(query[None, :])[0]
        distance = np.zeros(len(self.ids), dtype=np.uint16)
        for word in range(self.codes.shape[1]):
            # Column by column: each pass is one contiguous-enough sweep of n words.
            distance += np.bitwise_count(self.codes[:, word] ^ wanted[word])
        if keep >= len(distance):
            return np.arange(len(distance))
        return np.argpartition(distance, keep - 1)[:keep]


class ScopeVectors:
    """The decrypted vectors of one scope, ids ascending, with room to grow.

    New memories (the highest ids) are written into spare rows, so a chat turn copies
    nothing; the storage doubles when full. Removing rows makes new arrays, so a search
    running on an older snapshot is never disturbed.
    """

    def __init__(self, ids: Ids, matrix: Matrix) -> None:
        order = np.argsort(ids, kind="stable")
        self._ids = np.ascontiguousarray(ids[order], dtype=np.int64)
        self._matrix = np.ascontiguousarray(matrix[order], dtype=np.float32)
        self._codes = sign_codes(self._matrix)
        self.size = len(self._ids)

    @classmethod
    def empty(cls, dim: int) -> ScopeVectors:
        return cls(np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32))

    def __len__(self) -> int:
        return self.size

    @property
    def nbytes(self) -> int:
        return int(self._matrix.nbytes + self._ids.nbytes + self._codes.nbytes)

    def snapshot(self) -> Snapshot:
        """The rows as they are now."""
        n = self.size
        return Snapshot(self._ids[:n], self._matrix[:n], self._codes[:n])

    def add(self, ids: Sequence[int], rows: Matrix) -> None:
        """Add rows, or replace the rows of ids already held."""
        if not len(ids):
            return
        new_ids = np.asarray(ids, dtype=np.int64)
        rows = rows.astype(np.float32, copy=False)
        held = self._ids[: self.size]
        at = np.minimum(np.searchsorted(held, new_ids), max(self.size - 1, 0))
        known = (held[at] == new_ids) if self.size else np.zeros(len(new_ids), dtype=bool)
        if known.any():
            self._matrix[at[known]] = rows[known]
            self._codes[at[known]] = sign_codes(rows[known])
        new_ids, rows = new_ids[~known], rows[~known]
        if not len(new_ids):
            return
        order = np.argsort(new_ids, kind="stable")
        new_ids, rows = new_ids[order], rows[order]
        if self.size and new_ids[0] <= held[-1]:
            # An older id coming back (rare): rebuild in order.
            merged = ScopeVectors(
                np.concatenate([held, new_ids]), np.vstack([self._matrix[: self.size], rows])
            )
            self._ids, self._matrix, self._codes = merged._ids, merged._matrix, merged._codes
            self.size = merged.size
            return
        self._reserve(self.size + len(new_ids))
        end = self.size + len(new_ids)
        self._ids[self.size : end] = new_ids
        self._matrix[self.size : end] = rows
        self._codes[self.size : end] = sign_codes(rows)
        self.size = end

    def remove(self, ids: Iterable[int]) -> None:
        drop = np.fromiter(ids, dtype=np.int64)
        if not len(drop) or not self.size:
            return
        keep = ~np.isin(self._ids[: self.size], drop)
        if keep.all():
            return
        self._ids = self._ids[: self.size][keep]
        self._matrix = self._matrix[: self.size][keep]
        self._codes = self._codes[: self.size][keep]
        self.size = len(self._ids)

    def _reserve(self, rows: int) -> None:
        capacity = len(self._ids)
        if rows <= capacity:
            return
        capacity = max(rows, 2 * capacity, 64)
        ids = np.zeros(capacity, dtype=np.int64)
        matrix = np.zeros((capacity, self._matrix.shape[1]), dtype=np.float32)
        codes = np.zeros((capacity, self._codes.shape[1]), dtype=np.uint64)
        ids[: self.size] = self._ids[: self.size]
        matrix[: self.size] = self._matrix[: self.size]
        codes[: self.size] = self._codes[: self.size]
        self._ids, self._matrix, self._codes = ids, matrix, codes


class VectorCache:
    """Decrypted scopes of one database, least recently used first."""

    def __init__(self, budget: int = CACHE_BYTES) -> None:
        self.budget = budget
        self.scopes: OrderedDict[ScopeKey, ScopeVectors] = OrderedDict()
        # Bumped by every change to a user's memories: a scope loaded while one happened is
        # used once but not kept, since its snapshot may lack the change.
        self.epochs: dict[int, int] = {}

    def get(self, key: ScopeKey) -> ScopeVectors | None:
        found = self.scopes.get(key)
        if found is not None:
            self.scopes.move_to_end(key)
        return found

    def put(self, key: ScopeKey, vectors: ScopeVectors) -> None:
        self.scopes[key] = vectors
        self.scopes.move_to_end(key)
        total = sum(v.nbytes for v in self.scopes.values())
        while total > self.budget and len(self.scopes) > 1:
            _, evicted = self.scopes.popitem(last=False)
            total -= evicted.nbytes

    def added(
        self, user_id: int, character_id: int | None, embedder: str, ids: list[int], rows: Matrix
    ) -> None:
        """Rows (re)indexed for a user: a user-wide memory joins every cached scope of the
        user; a memory that moved to one character leaves the others."""
        self.epochs[user_id] = self.epochs.get(user_id, 0) + 1
        for (user, character, name), vectors in self.scopes.items():
            if user != user_id:
                continue
            if name == embedder and (character_id is None or character == character_id):
                vectors.add(ids, rows)
            else:
                vectors.remove(ids)

    def removed(self, user_id: int, ids: Sequence[int]) -> None:
        self.epochs[user_id] = self.epochs.get(user_id, 0) + 1
        for (user, _, _), vectors in self.scopes.items():
            if user == user_id:
                vectors.remove(ids)

    def forget_user(self, user_id: int) -> None:
        self.epochs[user_id] = self.epochs.get(user_id, 0) + 1
        for key in [key for key in self.scopes if key[0] == user_id]:
            del self.scopes[key]


# One cache per database engine: tests and the benchmark open many databases in a process,
# and the same user id in two of them is two different people.
_caches: weakref.WeakKeyDictionary[Engine, VectorCache] = weakref.WeakKeyDictionary()


def cache_of(session: AsyncSession) -> VectorCache:
    """The vector cache of the session's database."""
    engine = session.get_bind().engine
    cache = _caches.get(engine)
    if cache is None:
        cache = _caches[engine] = VectorCache()
    return cache


def forget_user(user_id: int) -> None:
    """Drop a user's decrypted vectors from every cache (account deletion, key shredding)."""
    for cache in list(_caches.values()):
        cache.forget_user(user_id)


def scope_filter(user_id: int, character_id: int | None) -> list[ColumnElement[bool]]:
    """SQL conditions for one scope's retrievable memories."""
    same: ColumnElement[bool] = Memory.character_id.is_(None)
    if character_id is not None:
        same = or_(Memory.character_id == character_id, same)
    return [Memory.user_id == user_id, same, Memory.superseded_by_id.is_(None)]


def _load(
    sync: Session, keyring: Keyring, user_id: int, character_id: int | None, embedder: str
) -> tuple[list[int], list[Matrix]]:
    # The sealed values are opened here without building ORM objects: a scope can hold
    # 100k memories and only their vectors are wanted.
    connection, pending = sync.connection(), Pending.of(sync)
    rows = connection.execute(
        select(Memory.id, Memory.sealed)
        .where(*scope_filter(user_id, character_id), Memory.embedder == embedder)
        .order_by(Memory.id)
    )
    ids: list[int] = []
    vectors: list[Matrix] = []
    for memory_id, blob in rows:
        if blob is None:
            continue
        fields = open_fields(
            keyring,
            connection,
            pending,
            table="memories",
            row_id=memory_id,
            owner=user_id,
            blob=blob,
        )
        data = fields.get("vector")
        if data:
            ids.append(memory_id)
            vectors.append(decode_vector(data))
    return ids, vectors


async def scope_vectors(
    session: AsyncSession,
    keyring: Keyring,
    *,
    user_id: int,
    character_id: int | None,
    embedder: str,
    dim: int,
) -> ScopeVectors:
    """The scope's vectors made by ``embedder``, loaded and decrypted on first use."""
    cache = cache_of(session)
    key: ScopeKey = (user_id, character_id, embedder)
    found = cache.get(key)
    if found is not None:
        return found
    epoch = cache.epochs.get(user_id, 0)
    ids, rows = await session.run_sync(_load, keyring, user_id, character_id, embedder)
    vectors = ScopeVectors.empty(dim)
    if ids:
        vectors = ScopeVectors(np.asarray(ids, dtype=np.int64), np.vstack(rows))
    if cache.epochs.get(user_id, 0) == epoch:
        cache.put(key, vectors)
    return vectors
