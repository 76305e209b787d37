"""A BERT encoder's forward pass in numpy, float32 throughout (enough for MiniLM sentences).

Inference only: no dropout, absolute positions, GELU in its exact erf form, post-LayerNorm
blocks, the tensor names of Hugging Face's ``BertModel`` safetensors export. Each call works
on its own arrays and only reads the weights, so calls from several threads are safe.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
Ids = npt.NDArray[np.int64]

# The score a padding key gets before softmax: far below any real score, yet finite so that
# no row of the softmax can turn into NaN.
_MASKED = np.float32(-1e9)
# OpenBLAS's float32 kernels take a product's rows four at a time: on a 2-core EPYC, 13, 14 or
# 15 rows through the dense layers took longer than 16 (and 11 longer than 12). One text's
# rows are padded to a multiple of this.
_ROW_MULTIPLE = 4


# Abramowitz and Stegun 7.1.26: erfc(z) ≈ t·(a1 + t·(a2 + …)) · exp(-z²), t = 1/(1 + p·z), for
# z ≥ 0, off by at most 1.5e-7, below float32's own rounding. Blocked as below it measured 2.5
# times faster than scipy.special.erf, and it needs no scipy. Here z = |x|/√2: the 1/√2 is
# folded into p, and the 1/2 of Φ = erfc/2 into the a's.
_P = np.float32(0.3275911 / math.sqrt(2.0))
_A1, _A2, _A3, _A4, _A5 = (
    np.float32(a / 2) for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
)
# GELU runs over (tokens, 1536) arrays; taking them in blocks that stay in the CPU cache keeps
# its numpy steps from streaming the whole array through memory again and again.
_GELU_BLOCK = 32768


def _gelu(x: F32) -> F32:
    """GELU in its exact form x·Φ(x), computed in place on ``x`` when it is contiguous."""
    x = np.ascontiguousarray(x)
    flat = x.reshape(-1)  # a view, so the blocks below write into x
    for start in range(0, flat.size, _GELU_BLOCK):
        _gelu_block(flat[start : start + _GELU_BLOCK])
    return x


def _gelu_block(x: F32) -> None:
    """x·Φ(x) in place as max(x, 0) - |x|·Φ(-|x|), Φ(-|x|) = erfc(|x|/√2)/2 by the series."""
    a = np.abs(x)
    t = a * _P
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    tail = t * _A5  # Horner: ((((a5·t + a4)·t + a3)·t + a2)·t + a1)·t
    for coefficient in (_A4, _A3, _A2, _A1):
        tail += coefficient
        tail *= t
    gauss = np.square(a, out=t)  # t is spent: reuse it for exp(-a²/2)
    gauss *= np.float32(-0.5)
    np.exp(gauss, out=gauss)
    tail *= gauss
    tail *= a  # |x|·Φ(-|x|)
    np.maximum(x, np.float32(0.0), out=x)
    x -= tail


@dataclass(frozen=True, slots=True)
class BertConfig:
    """The sizes a forward pass needs, from the model's ``config.json``."""

    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    max_positions: int
    layer_norm_eps: float

    @classmethod
    def from_file(cls, path: Path) -> BertConfig:
        """Read a Hugging Face BERT ``config.json``; refuse variants this encoder lacks."""
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"Unsupported activation {raw['hidden_act']!r} in {path}.")
        if raw.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"Unsupported position embeddings in {path}.")
        config = cls(
            vocab_size=int(raw["vocab_size"]),
            hidden_size=int(raw["hidden_size"]),
            num_layers=int(raw["num_hidden_layers"]),
            num_heads=int(raw["num_attention_heads"]),
            intermediate_size=int(raw["intermediate_size"]),
            max_positions=int(raw["max_position_embeddings"]),
            layer_norm_eps=float(raw["layer_norm_eps"]),
        )
        if config.hidden_size % config.num_heads:
            raise ValueError(f"hidden_size is not a multiple of the head count in {path}.")
        return config


@dataclass(frozen=True, slots=True)
class _Norm:
    gain: F32
    bias: F32


@dataclass(frozen=True, slots=True)
class _Dense:
    weight: F32  # (in, out): transposed from the (out, in) layout stored on disk
    bias: F32

    def __call__(self, x: F32) -> F32:
        out = x @ self.weight
        out += self.bias  # in place: one (tokens, out) array fewer
        return out


@dataclass(frozen=True, slots=True)
class _Layer:
    qkv: _Dense  # query, key and value side by side: one matmul instead of three
    attention_out: _Dense
    attention_norm: _Norm
    ff_in: _Dense
    ff_out: _Dense
    ff_norm: _Norm


class BertEncoder:
    """Token ids in, the last layer's hidden states out: a padded batch with its attention
    mask (``__call__``), or one text's ids alone (``encode_one``, the quick way for a question).
    """

    def __init__(self, config: BertConfig, tensors: Mapping[str, npt.NDArray[Any]]) -> None:
        self.config = config
        get = _Tensors(tensors)
        self._word = get("embeddings.word_embeddings.weight")
        self._position = get("embeddings.position_embeddings.weight")
        self._token_type = get("embeddings.token_type_embeddings.weight")
        self._embedding_norm = get.norm("embeddings.LayerNorm")
        self._row_mean = _frozen(np.full(config.hidden_size, 1.0 / config.hidden_size))
        head_dim = config.hidden_size // config.num_heads
        # Scaling the query projection by 1/sqrt(head_dim) once here spares scaling every
        # score matrix later; the scores come out the same.
        scale = np.float32(1.0 / math.sqrt(head_dim))
        self._layers: list[_Layer] = []
        for i in range(config.num_layers):
            prefix = f"encoder.layer.{i}."
            query = get.dense(prefix + "attention.self.query")
            key = get.dense(prefix + "attention.self.key")
            value = get.dense(prefix + "attention.self.value")
            qkv = _Dense(
                weight=_frozen(
                    np.concatenate([query.weight * scale, key.weight, value.weight], axis=1)
                ),
                bias=_frozen(np.concatenate([query.bias * scale, key.bias, value.bias])),
            )
            self._layers.append(
                _Layer(
                    qkv=qkv,
                    attention_out=get.dense(prefix + "attention.output.dense"),
                    attention_norm=get.norm(prefix + "attention.output.LayerNorm"),
                    ff_in=get.dense(prefix + "intermediate.dense"),
                    ff_out=get.dense(prefix + "output.dense"),
                    ff_norm=get.norm(prefix + "output.LayerNorm"),
                )
            )

    @classmethod
    def load(cls, folder: Path) -> BertEncoder:
        """Build from a folder holding ``config.json`` and ``model.safetensors``."""
        from safetensors.numpy import load_file

        config = BertConfig.from_file(folder / "config.json")
        return cls(config, load_file(folder / "model.safetensors"))

    def __call__(self, ids: Ids, mask: F32) -> F32:
        """Hidden states (batch, length, hidden) for ids and mask of shape (batch, length)."""
        batch, length = ids.shape
        self._check_length(length)
        x = self._embed(ids)
        # Added to every query's scores, so padding keys get no attention weight.
        key_bias = ((1.0 - mask) * _MASKED).astype(np.float32)[:, None, None, :]
        x = self._blocks(x, lambda qkv: self._attend_batch(qkv, key_bias, batch, length))
        return x.reshape(batch, length, -1)

    def encode_one(self, ids: Sequence[int]) -> F32:
        """Hidden states (length, hidden) for one text's ids: no batch axis, no mask.

        The rows are padded to a multiple of ``_ROW_MULTIPLE`` for the dense layers' sake;
        the padding rows are never attended to, so the real rows come out as in ``__call__``.
        """
        length = len(ids)
        self._check_length(length)
        rows = -(-length // _ROW_MULTIPLE) * _ROW_MULTIPLE
        x = np.zeros((rows, self.config.hidden_size), dtype=np.float32)
        x[:length] = self._embed(np.asarray(ids, dtype=np.int64))
        x = self._blocks(x, lambda qkv: self._attend_one(qkv, length))
        return x[:length]

    def _check_length(self, length: int) -> None:
        if length > self.config.max_positions:
            raise ValueError(f"{length} tokens exceed the {self.config.max_positions} positions.")

    def _embed(self, ids: Ids) -> F32:
        """Normalised input embeddings, one row per id, for ids of shape (..., length)."""
        # Token type 0 throughout: single-segment inputs.
        x = self._word[ids] + self._position[: ids.shape[-1]]
        x += self._token_type[0]
        return self._layer_norm(x.reshape(-1, self.config.hidden_size), self._embedding_norm)

    def _blocks(self, x: F32, attend: Callable[[F32], F32]) -> F32:
        """Run (rows, hidden) states through every layer; ``attend`` maps the fused
        query/key/value rows to the attention's context rows."""
        for layer in self._layers:
            x = self._add_norm(layer.attention_out(attend(layer.qkv(x))), x, layer.attention_norm)
            x = self._add_norm(layer.ff_out(_gelu(layer.ff_in(x))), x, layer.ff_norm)
        return x

    def _attend_batch(self, qkv: F32, key_bias: F32, batch: int, length: int) -> F32:
        """Context rows for ``batch`` padded texts of ``length`` rows each."""
        heads = self.config.num_heads
        # (batch*length, 3*hidden) -> three (batch, heads, length, head_dim) arrays.
        split = qkv.reshape(batch, length, 3, heads, -1).transpose(2, 0, 3, 1, 4)
        query, key, value = split[0], split[1], split[2]
        scores = query @ key.transpose(0, 1, 3, 2)
        scores += key_bias
        context = _softmax(scores) @ value  # (batch, heads, length, head_dim)
        return np.ascontiguousarray(context.transpose(0, 2, 1, 3)).reshape(batch * length, -1)

    def _attend_one(self, qkv: F32, length: int) -> F32:
        """Context rows for one text: every row asks, only its first ``length`` rows answer."""
        rows = qkv.shape[0]
        heads = self.config.num_heads
        split = qkv.reshape(rows, 3, heads, -1)
        query = split[:, 0].transpose(1, 0, 2)  # (heads, rows, head_dim)
        key = split[:length, 1].transpose(1, 2, 0)  # (heads, head_dim, length)
        value = split[:length, 2].transpose(1, 0, 2)  # (heads, length, head_dim)
        context = np.empty((rows, heads, value.shape[2]), dtype=np.float32)
        np.matmul(_softmax(query @ key), value, out=context.transpose(1, 0, 2))
        return context.reshape(rows, -1)

    def _add_norm(self, x: F32, residual: F32, norm: _Norm) -> F32:
        """LayerNorm(x + residual), in place on ``x`` (a layer's fresh output)."""
        x += residual
        return self._layer_norm(x, norm)

    def _layer_norm(self, x: F32, norm: _Norm) -> F32:
        """LayerNorm over the rows of a (rows, hidden) array, in place on ``x``."""
        # Row means as matrix-vector products: fewer numpy steps than x.mean for few rows.
        x -= (x @ self._row_mean)[:, None]
        variance = np.square(x) @ self._row_mean
        variance += np.float32(self.config.layer_norm_eps)
        np.sqrt(variance, out=variance)
        x *= np.reciprocal(variance, out=variance)[:, None]
        x *= norm.gain
        x += norm.bias
        return x


def _softmax(scores: F32) -> F32:
    """Softmax over the last axis, in place: the scores are the largest array of a pass."""
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    return scores


class _Tensors:
    """Fetches named tensors as read-only float32 arrays, Linear weights transposed."""

    def __init__(self, tensors: Mapping[str, npt.NDArray[Any]]) -> None:
        self._tensors = tensors

    def __call__(self, name: str) -> F32:
        try:
            tensor = self._tensors[name]
        except KeyError:
            raise ValueError(f"The weights lack {name!r}: not a BERT export.") from None
        return _frozen(tensor)

    def dense(self, prefix: str) -> _Dense:
        return _Dense(weight=_frozen(self(prefix + ".weight").T), bias=self(prefix + ".bias"))

    def norm(self, prefix: str) -> _Norm:
        return _Norm(gain=self(prefix + ".weight"), bias=self(prefix + ".bias"))


def _frozen(array: npt.NDArray[Any]) -> F32:
    """A contiguous float32 copy nobody can write to: weights are shared between threads."""
    frozen = np.array(array, dtype=np.float32, order="C")
    frozen.flags.writeable = False
    return frozen
