"""Memory vectors: stored sealed as float16, searched exactly in process per scope.

A vector never reaches a shared index in plaintext: it lives in the memory's sealed value
(base64 of little-endian float16) and is opened into an in-memory matrix for one
(user, character) scope the first time that scope is searched. Index and unindex keep the
cached matrices up to date in this process; a byte budget evicts the scopes used least
recently. Search is an exact cosine top-k (the rows are L2-normalised) with numpy.
"""

from __future__ import annotations

import asyncio
import base64
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

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
ScopeKey = tuple[int, int | None, str]
"""(user id, character id or None for the user-wide scope, embedder name)."""

CACHE_BYTES = 512 * 2**20
"""Decrypted matrices kept per process, all scopes together (100k x 384 is 150 MiB)."""
THREAD_ROWS = 20_000
"""Scopes at least this big are scored in a worker thread so the event loop keeps going."""


def encode_vector(vector: npt.NDArray[np.floating]) -> str:
    """A vector as stored: base64 of little-endian float16."""
    return base64.b64encode(np.asarray(vector, dtype="<f2").tobytes()).decode("ascii")


def decode_vector(data: str) -> Matrix:
    """A stored vector back as float32."""
    return np.frombuffer(base64.b64decode(data), dtype="<f2").astype(np.float32)


@dataclass
class ScopeVectors:
    """The decrypted vectors of one scope: ids in ascending order and a float32 matrix."""

    ids: Ids
    matrix: Matrix
    _new_ids: list[int] = field(default_factory=list)
    _new_rows: list[Matrix] = field(default_factory=list)

    @classmethod
    def empty(cls, dim: int) -> ScopeVectors:
        return cls(np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32))

    def __len__(self) -> int:
        return len(self.ids) + len(self._new_ids)

    @property
    def nbytes(self) -> int:
        return int(self.matrix.nbytes + self.ids.nbytes) + sum(r.nbytes for r in self._new_rows)

    def add(self, ids: Sequence[int], rows: Matrix) -> None:
        """Add (or replace) rows; new ones wait in a list, so a chat turn copies nothing."""
        if self._holds_any(ids):
            self.remove(ids)
        self._new_ids.extend(ids)
        self._new_rows.append(rows.astype(np.float32, copy=False))

    def remove(self, ids: Iterable[int]) -> None:
        drop = np.fromiter(ids, dtype=np.int64)
        if not len(drop) or not len(self):
            return
        self._settle()
        keep = ~np.isin(self.ids, drop)
        if not keep.all():
            self.ids, self.matrix = self.ids[keep], self.matrix[keep]

    def top(self, query: Matrix, n: int) -> list[tuple[int, float]]:
        """The n rows most similar to a normalised query: (id, cosine), best first."""
        ids, matrix = self.snapshot()
        return _rank(ids, matrix, query, n, [])[0]

    def snapshot(self) -> tuple[Ids, Matrix]:
        """The ids and matrix as they are now (later changes replace them, never edit)."""
        self._settle()
        return self.ids, self.matrix

    def _holds_any(self, ids: Sequence[int]) -> bool:
        if set(ids) & set(self._new_ids):
            return True
        if not len(self.ids):
            return False
        wanted = np.asarray(ids, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.ids, wanted), len(self.ids) - 1)
        return bool((self.ids[at] == wanted).any())

    def _settle(self) -> None:
        if not self._new_rows:
            return
        ids = np.concatenate([self.ids, np.asarray(self._new_ids, dtype=np.int64)])
        matrix = np.vstack([self.matrix, *self._new_rows])
        self._new_ids, self._new_rows = [], []
        # New memories have the highest ids, so this is nearly always sorted already.
        if len(ids) > 1 and not bool((ids[1:] > ids[:-1]).all()):
            order = np.argsort(ids, kind="stable")
            ids, matrix = ids[order], matrix[order]
        self.ids, self.matrix = ids, matrix


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


def _rank(
    ids: Ids, matrix: Matrix, query: Matrix, n: int, wanted: Sequence[int]
) -> tuple[list[tuple[int, float]], dict[int, float]]:
    if not len(ids) or query.shape[0] != matrix.shape[1]:
        return [], {}
    scores = matrix @ query.astype(np.float32, copy=False)
    n = min(n, len(scores))
    best = np.argpartition(-scores, n - 1)[:n] if len(scores) > n else np.arange(len(scores))
    best = best[np.argsort(-scores[best], kind="stable")]
    top = [(int(ids[i]), float(scores[i])) for i in best] if n > 0 else []
    # Scores of other memories too (the lexical side's candidates), found by bisection.
    asked = np.asarray(wanted, dtype=np.int64)
    at = np.minimum(np.searchsorted(ids, asked), len(ids) - 1)
    found = ids[at] == asked
    extra = {int(i): float(scores[j]) for i, j in zip(asked[found], at[found], strict=True)}
    return top, extra


async def search(
    vectors: ScopeVectors, query: Matrix, n: int, wanted: Sequence[int] = ()
) -> tuple[list[tuple[int, float]], dict[int, float]]:
    """Exact top-n by cosine, best first, and the cosine of each ``wanted`` id in the scope.

    A big scope is scored off the event loop.
    """
    ids, matrix = vectors.snapshot()
    if len(ids) >= THREAD_ROWS:
        return await asyncio.to_thread(_rank, ids, matrix, query, n, wanted)
    return _rank(ids, matrix, query, n, wanted)
