"""Memory retrieval on LoCoMo: hybrid recall against the blind BM25 index alone.

Each conversation goes into a fresh SQLite database opened like the app opens one (keyring,
migrations), for a new user and character, session by session through the real memory
pipeline: every turn becomes a sealed episode memory, embedded and blind-indexed by
``index_memories``. Each question with evidence is then asked of ``recall`` and of the
lexical index alone, and the gold turns found in the top k are counted (recall@k,
micro-averaged over gold turns). ``--scale`` fills one scope to 10k and 100k memories and
times recall there. Figures are printed, never asserted.

    .venv/bin/python benchmarks/memory_locomo.py --data ../shared/data/memory/locomo_dev7.json
    .venv/bin/python benchmarks/memory_locomo.py --data FILE --embedder wordllama --scale

The last line is ``recall@K=<x> bm25_recall@K=<y> p95_ms=<z>``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from afterdark.accounts import service as accounts_service
from afterdark.accounts.schemas import UserCreate
from afterdark.characters import service as characters_service
from afterdark.characters.schemas import CharacterCreate
from afterdark.config import Settings
from afterdark.memory import lexical, retrieval, vectors
from afterdark.memory.embeddings import Embedder, Vectors, create_embedder
from afterdark.memory.embeddings.base import unit_rows
from afterdark.memory.index import index_memories
from afterdark.memory.models import Memory
from afterdark.privacy.keyring import Keyring
from afterdark.runtime import prepare_database
from afterdark.store.engine import Database

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
EVIDENCE = re.compile(r"D\d+:\d+")
SESSION = re.compile(r"session_(\d+)$")
INGEST_BATCH = 1000
NOISE = 0.02  # per-dimension noise on reused vectors in the scale run (cosine ~0.93)


# --- the data -------------------------------------------------------------------------


@dataclass
class Turn:
    dia_id: str
    text: str
    happened_at: datetime
    previous: str | None


@dataclass
class Question:
    text: str
    category: int
    evidence: list[str]


@dataclass
class Conversation:
    sample_id: str
    speakers: tuple[str, str]
    sessions: list[list[Turn]]
    questions: list[Question]
    dropped_evidence: int = 0

    @property
    def last_time(self) -> datetime:
        return max(turn.happened_at for turns in self.sessions for turn in turns)


def parse_when(value: str) -> datetime:
    """LoCoMo's session time, e.g. "1:56 pm on 8 May, 2023", as UTC."""
    return datetime.strptime(value.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def turn_text(turn: dict[str, Any]) -> str:
    text = f"{turn['speaker']}: {turn['text']}"
    if turn.get("blip_caption"):
        text += f" [shares a photo: {turn['blip_caption']}]"
    return text


def load(path: Path, *, adversarial: bool) -> list[Conversation]:
    conversations = []
    for item in json.loads(path.read_text("utf-8")):
        raw = item["conversation"]
        numbers = sorted(int(m.group(1)) for key in raw if (m := SESSION.match(key)) and raw[key])
        sessions: list[list[Turn]] = []
        for number in numbers:
            when = parse_when(raw[f"session_{number}_date_time"])
            turns: list[Turn] = []
            previous: str | None = None
            for position, turn in enumerate(raw[f"session_{number}"]):
                # Turns of a session share its time; a second apart keeps their order.
                at = when + timedelta(seconds=position)
                turns.append(Turn(turn["dia_id"], turn_text(turn), at, previous))
                # The context of the next turn: what was said, without the speaker's name
                # (which would match every question about that speaker).
                previous = turn_text(turn).split(": ", 1)[1]
            sessions.append(turns)
        known = {turn.dia_id for turns in sessions for turn in turns}
        questions, dropped = [], 0
        for qa in item["qa"]:
            if qa["category"] == 5 and not adversarial:
                continue
            found = EVIDENCE.findall(" ".join(str(e) for e in qa.get("evidence") or []))
            gold = [e for e in dict.fromkeys(found) if e in known]
            dropped += len(set(found)) - len(gold)
            if gold:
                questions.append(Question(qa["question"], int(qa["category"]), gold))
        conversations.append(
            Conversation(
                item["sample_id"],
                (raw["speaker_a"], raw["speaker_b"]),
                sessions,
                questions,
                dropped,
            )
        )
    return conversations


# --- an instance --------------------------------------------------------------------------


@dataclass
class Instance:
    database: Database
    keyring: Keyring
    user_id: int
    character_id: int


async def open_instance(folder: Path, character: str) -> Instance:
    """A fresh SQLite instance opened like the app does, with one user and one character."""
    settings = Settings(environment="test", data_dir=folder, seed_catalogue=False)
    database = await prepare_database(settings)
    assert database.keyring is not None
    async with database.session() as session:
        user = await accounts_service.create_user(
            session,
            UserCreate(email="bench@example.com", password="x" * 16, birthdate=date(1990, 1, 1)),
            min_age=18,
        )
        made = await characters_service.create_character(
            session, user, CharacterCreate(name=character, age=30, description="A friend.")
        )
        await session.commit()
        return Instance(database, database.keyring, user.id, made.id)


async def ingest(
    instance: Instance,
    embedder: Embedder,
    turns: Sequence[Turn],
    *,
    context: bool,
) -> list[int]:
    """Index turns as episode memories in one transaction; their memory ids."""
    async with instance.database.session() as session:
        memories = []
        for turn in turns:
            memory = Memory(
                user_id=instance.user_id,
                character_id=instance.character_id,
                kind="episode",
                origin="imported",
                category="other",
                importance=0.5,
                happened_at=turn.happened_at,
            )
            memory.text = turn.text
            memories.append(memory)
        contexts = [turn.previous for turn in turns] if context else None
        await index_memories(session, instance.keyring, embedder, memories, contexts=contexts)
        await session.commit()
        return [memory.id for memory in memories]


# --- scoring ------------------------------------------------------------------------------


@dataclass
class Tally:
    found: int = 0
    total: int = 0

    @property
    def recall(self) -> float:
        return self.found / self.total if self.total else 0.0


@dataclass
class Scores:
    hybrid: dict[int, Tally] = field(default_factory=lambda: defaultdict(Tally))
    bm25: dict[int, Tally] = field(default_factory=lambda: defaultdict(Tally))
    latency_ms: list[float] = field(default_factory=list)
    bm25_latency_ms: list[float] = field(default_factory=list)
    cold_ms: list[float] = field(default_factory=list)

    @staticmethod
    def overall(tallies: dict[int, Tally]) -> Tally:
        return Tally(sum(t.found for t in tallies.values()), sum(t.total for t in tallies.values()))


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else 0.0


async def ask(
    instance: Instance,
    embedder: Embedder,
    questions: Sequence[Question],
    ids: dict[str, int],
    scores: Scores,
    *,
    k: int,
    now: datetime,
    weights: retrieval.Weights,
) -> None:
    async with instance.database.session() as session:
        user_id, character_id = instance.user_id, instance.character_id
        # The first recall opens the scope's vectors; timed apart from the rest.
        started = time.perf_counter()
        await retrieval.recall(
            session,
            instance.keyring,
            embedder,
            query="hello",
            k=k,
            now=now,
            user_id=user_id,
            character_id=character_id,
        )
        scores.cold_ms.append((time.perf_counter() - started) * 1000)
        for question in questions:
            gold = {ids[e] for e in question.evidence}
            started = time.perf_counter()
            recalled = await retrieval.recall(
                session,
                instance.keyring,
                embedder,
                query=question.text,
                k=k,
                now=now,
                weights=weights,
                user_id=user_id,
                character_id=character_id,
            )
            scores.latency_ms.append((time.perf_counter() - started) * 1000)
            tally = scores.hybrid[question.category]
            tally.found += len(gold & {r.memory.id for r in recalled})
            tally.total += len(gold)

            started = time.perf_counter()
            lexical = await retrieval.lexical_ranking(
                session,
                instance.keyring,
                query=question.text,
                limit=k,
                user_id=user_id,
                character_id=character_id,
            )
            scores.bm25_latency_ms.append((time.perf_counter() - started) * 1000)
            tally = scores.bm25[question.category]
            tally.found += len(gold & {memory_id for memory_id, _ in lexical})
            tally.total += len(gold)
            session.expunge_all()  # a long run should not grow the identity map


# --- the runs -----------------------------------------------------------------------------


async def run_locomo(
    conversations: Sequence[Conversation],
    embedder: Embedder,
    *,
    k: int,
    context: bool,
    variants: dict[str, retrieval.Weights],
) -> dict[str, Scores]:
    results = {name: Scores() for name in variants}
    ingest_seconds, memories = 0.0, 0
    for conversation in conversations:
        with tempfile.TemporaryDirectory(prefix="afterdark-locomo-") as folder:
            instance = await open_instance(Path(folder), conversation.speakers[1])
            ids: dict[str, int] = {}
            started = time.perf_counter()
            for turns in conversation.sessions:
                made = await ingest(instance, embedder, turns, context=context)
                ids.update(zip((t.dia_id for t in turns), made, strict=True))
            ingest_seconds += time.perf_counter() - started
            memories += len(ids)
            now = conversation.last_time + timedelta(days=1)
            for name, weights in variants.items():
                await ask(
                    instance,
                    embedder,
                    conversation.questions,
                    ids,
                    results[name],
                    k=k,
                    now=now,
                    weights=weights,
                )
            await instance.database.dispose()
        first = next(iter(results.values()))
        print(
            f"  {conversation.sample_id}: {len(ids)} turns, {len(conversation.questions)} "
            f"questions, recall@{k} so far {Scores.overall(first.hybrid).recall:.3f}",
            flush=True,
        )
    print(
        f"ingestion: {memories} memories in {ingest_seconds:.1f} s "
        f"({memories / max(ingest_seconds, 1e-9):.0f}/s, embedding, sealing, blind terms)"
    )
    return results


def report(name: str, scores: Scores, k: int) -> None:
    hybrid, bm25 = Scores.overall(scores.hybrid), Scores.overall(scores.bm25)
    print(f"[{name}] recall@{k}: hybrid {hybrid.recall:.3f}  bm25 {bm25.recall:.3f}")
    for category in sorted(scores.hybrid):
        h, b = scores.hybrid[category], scores.bm25[category]
        print(
            f"    {category} {CATEGORIES[category]:<12} hybrid {h.recall:.3f}  "
            f"bm25 {b.recall:.3f}  ({h.total} gold turns)"
        )
    print(
        f"    latency ms: hybrid p50 {percentile(scores.latency_ms, 50):.2f} "
        f"p95 {percentile(scores.latency_ms, 95):.2f}; bm25 p50 "
        f"{percentile(scores.bm25_latency_ms, 50):.2f} "
        f"p95 {percentile(scores.bm25_latency_ms, 95):.2f}; first recall of a scope "
        f"(loads its vectors) {statistics.mean(scores.cold_ms):.1f}"
    )


# --- the scale run ----------------------------------------------------------------------


NAMES = ["Avery", "Jordan", "Priya", "Tomas", "Mei", "Kwame", "Lucia", "Noor", "Sven", "Ines"]


class ReusedEmbedder:
    """Vectors for synthetic memories: a real embedding of a pool text plus small noise.

    Embedding 100k texts with the model would take most of an hour on two cores; the scale
    run measures search cost, which depends on the count and size of vectors, not on them
    being fresh. The pool is embedded for real.
    """

    def __init__(self, base: Embedder, pool: dict[str, int], vectors: Vectors) -> None:
        self.name, self.dim = base.name, base.dim
        self.pool, self.vectors = pool, vectors
        self.random = np.random.default_rng(7)

    def embed(self, texts: Sequence[str]) -> Vectors:
        rows: Vectors = self.vectors[[self.pool[text] for text in texts]]
        rows = rows + self.random.normal(0, NOISE, rows.shape).astype(np.float32)
        return unit_rows(rows)


def synthetic_texts(conversations: Sequence[Conversation], count: int) -> list[str]:
    """Sentences made from LoCoMo turns: a speaker name and two turns' sentences mixed."""
    sentences = [
        part.strip()
        for c in conversations
        for turns in c.sessions
        for turn in turns
        for part in re.split(r"(?<=[.!?])\s+", turn.text.split(": ", 1)[-1])
        if len(part.split()) >= 4
    ]
    chooser = random.Random(11)
    made: dict[str, None] = {}
    while len(made) < count:
        a, b = chooser.choice(sentences), chooser.choice(sentences)
        made[f"{chooser.choice(NAMES)}: {a} {b}"] = None
    return list(made)


async def run_scale(
    conversations: Sequence[Conversation],
    embedder: Embedder,
    *,
    k: int,
    pool_size: int,
    context: bool,
) -> None:
    conversation, others = conversations[0], list(conversations[1:]) or list(conversations)
    print(
        f"\nscale run: {conversation.sample_id} ({sum(map(len, conversation.sessions))} turns, "
        f"real embeddings) in one scope with synthetic memories up to 10k and 100k"
    )
    started = time.perf_counter()
    pool_texts = synthetic_texts(others, pool_size)
    pool_vectors = np.vstack(
        [embedder.embed(pool_texts[i : i + 64]) for i in range(0, len(pool_texts), 64)]
    )
    print(
        f"  synthetic memories: {pool_size} distinct sentences made from the turns of "
        f"{', '.join(c.sample_id for c in others)}, embedded for real in "
        f"{time.perf_counter() - started:.0f} s; every further synthetic memory reuses one of "
        f"their vectors plus N(0, {NOISE}) noise per dimension, renormalised, with its own "
        "speaker name in the text"
    )
    query_ms = []
    for question in conversation.questions:
        started = time.perf_counter()
        embedder.embed([question.text])
        query_ms.append((time.perf_counter() - started) * 1000)
    print(
        f"  embedding one question alone (part of every recall): p50 "
        f"{percentile(query_ms, 50):.2f} ms, p95 {percentile(query_ms, 95):.2f} ms"
    )
    with tempfile.TemporaryDirectory(prefix="afterdark-scale-") as folder:
        instance = await open_instance(Path(folder), conversation.speakers[1])
        ids: dict[str, int] = {}
        for turns in conversation.sessions:
            made = await ingest(instance, embedder, turns, context=context)
            ids.update(zip((t.dia_id for t in turns), made, strict=True))
        filled = len(ids)
        chooser = random.Random(5)
        for size in (10_000, 100_000):
            started = time.perf_counter()
            texts: list[str] = []
            pool: dict[str, int] = {}
            while filled + len(texts) < size:
                j = chooser.randrange(pool_size)
                rest = pool_texts[j].split(": ", 1)[1]
                text = f"{chooser.choice(NAMES)}: {rest} ({len(texts) + filled})"
                pool[text] = j
                texts.append(text)
            reused = ReusedEmbedder(embedder, pool, pool_vectors)
            when = conversation.last_time - timedelta(days=400)
            for start in range(0, len(texts), INGEST_BATCH):
                chunk = texts[start : start + INGEST_BATCH]
                turns = [Turn(f"S{start + i}", t, when, None) for i, t in enumerate(chunk)]
                await ingest(instance, reused, turns, context=False)
            filled += len(texts)
            took = time.perf_counter() - started
            print(
                f"  filled to {filled} memories (+{len(texts)} in {took:.0f} s, "
                f"{len(texts) / took:.0f}/s)",
                flush=True,
            )
            # Each size starts from a cold cache, as a restarted server would.
            vectors.forget_user(instance.user_id)
            await scale_figures(instance, embedder, conversation, ids, k, filled, "default")
            if size == 100_000:
                await scale_variants(instance, embedder, conversation, ids, k, filled)
        await instance.database.dispose()


async def scale_figures(
    instance: Instance,
    embedder: Embedder,
    conversation: Conversation,
    ids: dict[str, int],
    k: int,
    filled: int,
    label: str,
) -> None:
    scores = Scores()
    await ask(
        instance,
        embedder,
        conversation.questions,
        ids,
        scores,
        k=k,
        now=conversation.last_time + timedelta(days=1),
        weights=retrieval.WEIGHTS,
    )
    hybrid, bm25 = Scores.overall(scores.hybrid), Scores.overall(scores.bm25)
    print(
        f"  {filled:>7} memories, {label}: recall p50 {percentile(scores.latency_ms, 50):.2f} ms, "
        f"p95 {percentile(scores.latency_ms, 95):.2f} ms (target p95 <= 20 ms at 100k); "
        f"bm25 alone p50 {percentile(scores.bm25_latency_ms, 50):.2f} ms, "
        f"p95 {percentile(scores.bm25_latency_ms, 95):.2f} ms; first recall (loads and "
        f"decrypts the scope's vectors) {scores.cold_ms[0]:.0f} ms; recall@{k} of "
        f"{conversation.sample_id}'s questions among them {hybrid.recall:.3f} "
        f"(bm25 {bm25.recall:.3f})",
        flush=True,
    )


async def scale_variants(
    instance: Instance,
    embedder: Embedder,
    conversation: Conversation,
    ids: dict[str, int],
    k: int,
    filled: int,
) -> None:
    """What the two shortcuts for big scopes cost in results and save in time."""
    async with instance.database.session() as session:
        scope = await vectors.scope_vectors(
            session,
            instance.keyring,
            user_id=instance.user_id,
            character_id=instance.character_id,
            embedder=embedder.name,
            dim=embedder.dim,
        )
    snapshot = scope.snapshot()
    queries = embedder.embed([q.text for q in conversation.questions])
    quick = [{i for i, _ in snapshot.rank(q, 50)} for q in queries]
    exact_rows, budget = vectors.EXACT_ROWS, lexical.MATCH_BUDGET
    try:
        vectors.EXACT_ROWS = 10**9
        exact = [{i for i, _ in snapshot.rank(q, 50)} for q in queries]
        same = sum(len(a & b) for a, b in zip(quick, exact, strict=True)) / (50 * len(queries))
        print(f"  sign-bit prefilter: {same:.1%} of the exact top 50 found", flush=True)
        await scale_figures(instance, embedder, conversation, ids, k, filled, "exact vector scan")
        vectors.EXACT_ROWS = exact_rows
        lexical.MATCH_BUDGET = 10**9
        await scale_figures(
            instance, embedder, conversation, ids, k, filled, "every query term (no match budget)"
        )
    finally:
        vectors.EXACT_ROWS, lexical.MATCH_BUDGET = exact_rows, budget


# --- main ---------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="LoCoMo JSON file")
    parser.add_argument("--k", type=int, default=10, help="memories retrieved per question")
    parser.add_argument("--embedder", default="minilm", help="minilm, wordllama or fake")
    parser.add_argument("--limit-conversations", type=int, default=None)
    parser.add_argument(
        "--include-adversarial", action="store_true", help="also ask category 5 questions"
    )
    parser.add_argument(
        "--no-context",
        dest="context",
        action="store_false",
        help="index each turn's words alone, without the words of the turn before it",
    )
    parser.add_argument(
        "--sweep", action="store_true", help="also score other fusion weights on the same data"
    )
    parser.add_argument("--scale", action="store_true", help="also time recall at 10k and 100k")
    parser.add_argument("--pool", type=int, default=3000, help="distinct texts in --scale")
    return parser.parse_args(argv)


def sweep_variants() -> dict[str, retrieval.Weights]:
    """The default and the alternatives it was chosen over, scored on the same index."""
    weights = retrieval.Weights
    return {
        "default": retrieval.WEIGHTS,
        "scores, lexical 0.6 vector 0.4": weights(lexical=0.6, vector=0.4),
        "scores, lexical 0.4 vector 0.6": weights(lexical=0.4, vector=0.6),
        "scores, 100 candidates": weights(candidates=100),
        "scores, no boosts": weights(recency=0.0, importance=0.0),
        "scores, recency 0.2 half-life 30 d": weights(recency=0.2, half_life_days=30),
        "rrf k=60": weights(fusion="rrf", lexical=1.0, vector=1.0, rrf_k=60),
        "rrf k=60, lexical x2": weights(fusion="rrf", lexical=2.0, vector=1.0, rrf_k=60),
        "rrf k=10, lexical x1.5": weights(fusion="rrf", lexical=1.5, vector=1.0, rrf_k=10),
    }


async def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    conversations = load(args.data, adversarial=args.include_adversarial)
    if args.limit_conversations:
        conversations = conversations[: args.limit_conversations]
    started = time.perf_counter()
    embedder = create_embedder(args.embedder)
    embedder.embed(["warm up"])
    print(
        f"embedder {embedder.name} ({embedder.dim}-d), loaded in "
        f"{time.perf_counter() - started:.1f} s; k={args.k}; "
        f"{'lexical terms include the previous turn' if args.context else 'turns indexed alone'}; "
        f"{sum(len(c.questions) for c in conversations)} questions in "
        f"{len(conversations)} conversations"
        + ("" if args.include_adversarial else " (category 5 left out)"),
        flush=True,
    )
    dropped = sum(c.dropped_evidence for c in conversations)
    if dropped:
        print(f"  {dropped} evidence ids name no turn of their conversation: left out")
    variants = sweep_variants() if args.sweep else {"default": retrieval.WEIGHTS}
    results = await run_locomo(
        conversations, embedder, k=args.k, context=args.context, variants=variants
    )
    for name, scores in results.items():
        report(name, scores, args.k)
    if args.scale:
        await run_scale(
            conversations, embedder, k=args.k, pool_size=args.pool, context=args.context
        )
    final = results["default"]
    hybrid, bm25 = Scores.overall(final.hybrid), Scores.overall(final.bm25)
    print(
        f"targets: recall@{args.k} >= 0.85 ({'met' if hybrid.recall >= 0.85 else 'missed'}), "
        f"above bm25 ({'yes' if hybrid.recall > bm25.recall else 'no'})"
    )
    print(
        f"recall@{args.k}={hybrid.recall:.3f} bm25_recall@{args.k}={bm25.recall:.3f} "
        f"p95_ms={percentile(final.latency_ms, 95):.3f}"
    )


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
