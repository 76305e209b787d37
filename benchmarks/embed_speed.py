"""MiniLM embedding speed: one short text (a question) and a batch, against the previous code.

The previous code (every text, a question too, padded and masked as part of a batch, with the
old GELU and LayerNorm steps) is kept below, only here, and timed in the same run, taking
turns with the current ``MiniLM.embed``, so that whatever else the machine does weighs on
both alike: one question at a time, then a batch (LoCoMo turns with --data, as at ingestion).
The current vectors are compared with the previous ones too (lowest cosine). ``--cold`` reads
64 MiB before each single-text call, as a recall's vector scan does, so that the weights come
from memory instead of the cache. Figures are printed, never asserted.

    .venv/bin/python benchmarks/embed_speed.py
    .venv/bin/python benchmarks/embed_speed.py --data ../shared/data/memory/locomo_dev7.json

The last line is ``single_p50_ms=<x> single_p95_ms=<y> old_p50_ms=<z> old_p95_ms=<w>``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import numpy as np

from afterdark.memory.embeddings import bert, minilm
from afterdark.memory.embeddings.base import Vectors, unit_rows
from afterdark.memory.embeddings.minilm import MiniLM

Shape = tuple[int, int]

QUESTIONS = [
    "When did Caroline go to the LGBTQ support group?",
    "What did Melanie paint recently?",
    "How long has Caroline had her current group of friends for?",
    "What is Melanie's favourite activity with her kids at the beach and why?",
    "Where did you say your sister moved last spring?",
    "Did I tell you about the dog?",
    "What was the name of the band we saw in Lisbon?",
    "Why did he quit his job at the bakery?",
    "What does she do on Sunday mornings?",
    "Which book did I recommend to you?",
]
BATCH_TEXTS = 256  # texts per batched run (ingestion)


# --- the previous code (as of commit 28602e7), for comparison only --------------------


def _old_normal_cdf(x: bert.F32) -> bert.F32:
    z = np.abs(x) * np.float32(1.0 / math.sqrt(2.0))
    a1, a2, a3, a4, a5 = (
        np.float32(a) for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
    )
    t = np.float32(1.0) / (np.float32(1.0) + np.float32(0.3275911) * z)
    half_erfc = (
        np.float32(0.5) * t * (a1 + t * (a2 + t * (a3 + t * (a4 + t * a5)))) * np.exp(-z * z)
    )
    cdf: bert.F32 = np.where(x >= 0, np.float32(1.0) - half_erfc, half_erfc)
    return cdf


def _old_gelu(x: bert.F32) -> bert.F32:
    flat = x.reshape(-1)
    for start in range(0, flat.size, 16384):
        block = flat[start : start + 16384]
        block *= _old_normal_cdf(block)
    return x


def _old_layer_norm(x: bert.F32, norm: bert._Norm, eps: float) -> bert.F32:
    centred = x - x.mean(axis=-1, keepdims=True)
    variance = np.mean(centred * centred, axis=-1, keepdims=True)
    centred /= np.sqrt(variance + np.float32(eps))
    out: bert.F32 = centred * norm.gain + norm.bias
    return out


def _old_attention(
    encoder: bert.BertEncoder, x: bert.F32, key_bias: bert.F32, layer: bert._Layer, shape: Shape
) -> bert.F32:
    batch, length = shape
    qkv = layer.qkv(x).reshape(batch, length, 3, encoder.config.num_heads, -1)
    qkv = qkv.transpose(2, 0, 3, 1, 4)
    scores = qkv[0] @ qkv[1].transpose(0, 1, 3, 2) + key_bias
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    context = (scores @ qkv[2]).transpose(0, 2, 1, 3).reshape(batch * length, -1)
    return layer.attention_out(np.ascontiguousarray(context))


def _old_forward(encoder: bert.BertEncoder, ids: bert.Ids, mask: bert.F32) -> bert.F32:
    eps = encoder.config.layer_norm_eps
    shape: Shape = (ids.shape[0], ids.shape[1])
    x = encoder._word[ids] + encoder._position[: shape[1]] + encoder._token_type[0]
    x = _old_layer_norm(x.reshape(shape[0] * shape[1], -1), encoder._embedding_norm, eps)
    key_bias = ((1.0 - mask) * np.float32(-1e9)).astype(np.float32)[:, None, None, :]
    for layer in encoder._layers:
        attention = _old_attention(encoder, x, key_bias, layer, shape)
        x = _old_layer_norm(x + attention, layer.attention_norm, eps)
        x = _old_layer_norm(x + layer.ff_out(_old_gelu(layer.ff_in(x))), layer.ff_norm, eps)
    return x.reshape(shape[0], shape[1], -1)


def old_embed(model: MiniLM, texts: Sequence[str]) -> Vectors:
    """Texts as the previous code embedded them: every batch, even of one, padded and masked."""
    token_ids = [encoding.ids for encoding in model._tokenizer.encode_batch(list(texts))]
    out = np.empty((len(token_ids), model.dim), dtype=np.float32)
    for rows in minilm._batches([len(ids) for ids in token_ids]):
        ids, mask = minilm._pad([token_ids[row] for row in rows])
        out[rows] = minilm._mean_pool(_old_forward(model._encoder, ids, mask), mask)
    return unit_rows(out)


# --- timing ------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def load_texts(path: Path | None, limit: int) -> tuple[list[str], list[str]]:
    """Questions (one at a time) and texts to embed in one batch: LoCoMo's questions and
    turns with --data, else the built-in questions (numbered, for the batch)."""
    if path is None:
        return QUESTIONS, [f"{QUESTIONS[i % len(QUESTIONS)]} ({i})" for i in range(BATCH_TEXTS)]
    conversations = json.loads(path.read_text(encoding="utf-8"))
    questions = [qa["question"] for c in conversations for qa in c["qa"] if "question" in qa]
    turns = [
        turn["text"]
        for c in conversations
        for key, session in c["conversation"].items()
        if key.startswith("session_") and isinstance(session, list)
        for turn in session
    ]
    return questions[:limit], turns[:BATCH_TEXTS]


def time_paths(
    paths: dict[str, Callable[[str], Vectors]], questions: Sequence[str], rounds: int, cold: bool
) -> dict[str, list[float]]:
    """Milliseconds per call for each path, the paths taking turns on every question."""
    flush = np.ones(64 * 2**20 // 4, dtype=np.float32) if cold else None
    times: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        for question in questions:
            for name, embed in paths.items():
                if flush is not None:
                    flush.sum()
                start = time.perf_counter()
                embed(question)
                times[name].append((time.perf_counter() - start) * 1000)
    return times


def time_batches(
    paths: dict[str, Callable[[Sequence[str]], Vectors]], texts: Sequence[str], runs: int
) -> dict[str, float]:
    """Median texts per second of one batched call for each path, the paths taking turns."""
    rates: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(runs):
        for name, embed in paths.items():
            start = time.perf_counter()
            embed(texts)
            rates[name].append(len(texts) / (time.perf_counter() - start))
    return {name: statistics.median(values) for name, values in rates.items()}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="LoCoMo JSON (its questions)")
    parser.add_argument("--limit", type=int, default=300, help="questions taken from --data")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the questions")
    parser.add_argument("--cold", action="store_true", help="evict the caches before each call")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    model = MiniLM.load()
    questions, batch = load_texts(args.data, args.limit)
    lengths = [len(model._tokenizer.encode(q).ids) for q in questions]
    print(
        f"{len(questions)} questions, tokens p50 {statistics.median(lengths):.0f} "
        f"max {max(lengths)}; {args.rounds} rounds, {'cold' if args.cold else 'warm'} cache"
    )
    worst = min(float(model.embed([q])[0] @ old_embed(model, [q])[0]) for q in questions[:100])
    print(f"lowest cosine, current to previous vector: {worst:.7f}")

    paths: dict[str, Callable[[str], Vectors]] = {
        "single": lambda q: model.embed([q]),
        "old": lambda q: old_embed(model, [q]),
    }
    for question in questions[:20]:  # warm-up
        for embed in paths.values():
            embed(question)
    times = time_paths(paths, questions, args.rounds, args.cold)
    for name, values in times.items():
        print(
            f"{name:7s} p50 {percentile(values, 50):6.2f} ms   p95 {percentile(values, 95):6.2f} ms"
        )

    rates = time_batches({"batched": model.embed, "old": partial(old_embed, model)}, batch, 5)
    print(
        f"batched: {rates['batched']:.0f} texts/s, previous code {rates['old']:.0f} texts/s "
        f"({len(batch)} texts a call, median of 5)"
    )
    single, old = times["single"], times["old"]
    print(
        f"single_p50_ms={percentile(single, 50):.2f} single_p95_ms={percentile(single, 95):.2f} "
        f"old_p50_ms={percentile(old, 50):.2f} old_p95_ms={percentile(old, 95):.2f}"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
