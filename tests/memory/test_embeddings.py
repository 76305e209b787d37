"""The memory embedders: shapes, unit rows, batching, truncation, meaning, and MiniLM's
numpy BERT checked against the similarities sentence-transformers publishes."""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from afterdark.memory.embeddings import (
    EMBEDDERS,
    Embedder,
    FakeEmbedder,
    bert,
    create_embedder,
)
from afterdark.memory.embeddings.minilm import MiniLM, model_folder

DOG = "I adopted a puppy last week"
NEW_DOG = "She has a new dog"
TAXES = "The tax form is due in April"

PARAPHRASES = [
    ("I adopted a puppy last week", "Last week I got a new puppy"),
    ("My sister lives in Berlin", "My sister's home is in Berlin"),
    ("He is afraid of flying", "Flying on planes scares him"),
    ("We should meet for coffee tomorrow", "Let us get coffee together tomorrow"),
]
UNRELATED = [
    ("I adopted a puppy last week", "The tax form is due in April"),
    ("My sister lives in Berlin", "The soup needs more salt"),
    ("She plays the violin every evening", "The server restarted after the update"),
    ("He is afraid of flying", "Please water the tomato plants"),
]

# Texts of many lengths (so batches pad), more than one MiniLM batch of 32, unsorted.
VARIED = [
    " ".join(["word"] * (i % 7 + 1)) + f" number {i} " + "and more " * (i % 5) for i in range(40)
] + ["", "Hi", "Ünïcödé café ☕ 🌧️ 日本語のテキスト", "a " * 400]


@pytest.fixture(scope="module")
def minilm() -> MiniLM:
    model = create_embedder("minilm")
    assert isinstance(model, MiniLM)
    return model


@pytest.fixture(scope="module")
def wordllama() -> Embedder:
    return create_embedder("wordllama")


@pytest.fixture(scope="module", params=EMBEDDERS)
def embedder(request: pytest.FixtureRequest) -> Embedder:
    return create_embedder(request.param)


def cosine(model: Embedder, a: str, b: str) -> float:
    vectors = model.embed([a, b])
    return float(vectors[0] @ vectors[1])


# --- every embedder ---------------------------------------------------------------------


def test_shape_dtype_and_unit_rows(embedder: Embedder) -> None:
    vectors = embedder.embed([DOG, NEW_DOG, TAXES])
    assert vectors.shape == (3, embedder.dim)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_empty_input(embedder: Embedder) -> None:
    vectors = embedder.embed([])
    assert vectors.shape == (0, embedder.dim)
    assert vectors.dtype == np.float32


def test_batch_equals_one_by_one(embedder: Embedder) -> None:
    together = embedder.embed(VARIED)
    # Every third text and the odd ones at the end, alone, keeps the test quick.
    rows = [*range(0, 40, 3), 40, 41, 42, 43]
    alone = np.vstack([embedder.embed([VARIED[row]]) for row in rows])
    np.testing.assert_allclose(together[rows], alone, atol=1e-5)


def test_unicode_and_emoji(embedder: Embedder) -> None:
    texts = ["🐶🐾", "Ünïcödé café ☕", "日本語のテキスト", "naïve façade — “quoted”"]
    vectors = embedder.embed(texts)
    assert vectors.shape == (4, embedder.dim)
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_very_long_text(embedder: Embedder) -> None:
    long_text = "We walked along the beach and talked about the future. " * 2000
    vectors = embedder.embed([long_text, DOG])
    assert vectors.shape == (2, embedder.dim)
    assert np.isfinite(vectors).all()
    assert float(np.linalg.norm(vectors[0])) == pytest.approx(1.0, abs=1e-5)


def test_concurrent_calls_agree(embedder: Embedder) -> None:
    expected = embedder.embed(VARIED[::4])
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(embedder.embed, [VARIED[::4]] * 4))
    for result in results:
        np.testing.assert_allclose(result, expected, atol=1e-5)


async def test_runs_in_a_thread(embedder: Embedder) -> None:
    vectors = await asyncio.to_thread(embedder.embed, [DOG])
    np.testing.assert_allclose(vectors, embedder.embed([DOG]), atol=1e-6)


# --- the real models mean something -----------------------------------------------------


@pytest.mark.parametrize("name", ["minilm", "wordllama"])
def test_related_beats_unrelated(name: str) -> None:
    model = create_embedder(name)
    assert cosine(model, DOG, NEW_DOG) > cosine(model, DOG, TAXES)
    assert cosine(model, DOG, NEW_DOG) > cosine(model, NEW_DOG, TAXES)


@pytest.mark.parametrize("name", ["minilm", "wordllama"])
def test_paraphrases_beat_unrelated(name: str) -> None:
    model = create_embedder(name)
    weakest_paraphrase = min(cosine(model, a, b) for a, b in PARAPHRASES)
    strongest_unrelated = max(cosine(model, a, b) for a, b in UNRELATED)
    assert weakest_paraphrase > strongest_unrelated + 0.3


# --- MiniLM: the numpy BERT is the real thing -------------------------------------------


def test_minilm_reproduces_the_published_similarities(minilm: Embedder) -> None:
    # sentence-transformers' quickstart prints this matrix for all-MiniLM-L6-v2; matching it
    # to 3 decimals exercises tokenizer, encoder, masking, pooling and normalisation at once.
    vectors = minilm.embed(
        ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    )
    published = np.array(
        [[1.0, 0.6660, 0.1046], [0.6660, 1.0, 0.1411], [0.1046, 0.1411, 1.0]], dtype=np.float32
    )
    np.testing.assert_allclose(vectors @ vectors.T, published, atol=1e-3)


@pytest.mark.parametrize(("a", "b"), PARAPHRASES)
def test_minilm_paraphrases_are_close(minilm: Embedder, a: str, b: str) -> None:
    assert cosine(minilm, a, b) > 0.6


@pytest.mark.parametrize(("a", "b"), UNRELATED)
def test_minilm_unrelated_are_far(minilm: Embedder, a: str, b: str) -> None:
    assert cosine(minilm, a, b) < 0.3


def test_minilm_name_and_size(minilm: Embedder) -> None:
    assert (minilm.name, minilm.dim) == ("minilm-l6-v2", 384)


def test_minilm_truncates_to_256_tokens(minilm: Embedder) -> None:
    # Both texts are past 256 tokens, so both keep the same first 254 words.
    longer, shorter = minilm.embed(["cat " * 2000, "cat " * 300])
    np.testing.assert_allclose(longer, shorter, atol=1e-6)
    different = minilm.embed(["cat " * 100])[0]
    assert float(longer @ different) < 1 - 1e-4


def test_minilm_padding_does_not_leak(minilm: Embedder) -> None:
    # A short text batched with a long one must not see the long one's padding.
    short_alone = minilm.embed(["Hi"])[0]
    short_batched = minilm.embed(["Hi", "We walked along the beach for a long while. " * 20])[0]
    np.testing.assert_allclose(short_alone, short_batched, atol=1e-5)


def test_minilm_batches_group_similar_lengths() -> None:
    from afterdark.memory.embeddings.minilm import BATCH_SIZE, _batches

    lengths = [5] * 40 + [256, 7, 30, 200, 2]
    batches = list(_batches(lengths))
    assert sorted(row for batch in batches for row in batch) == list(range(len(lengths)))
    assert max(len(batch) for batch in batches) == BATCH_SIZE
    # Row 40, of 256 tokens, shares its batch only with long texts: no short text pads to 256.
    (long_batch,) = [batch for batch in batches if 40 in batch]
    assert min(lengths[row] for row in long_batch) >= 128


def test_gelu_is_the_exact_erf_form() -> None:
    x = np.linspace(-8, 8, 100_001, dtype=np.float32)  # several blocks and a ragged tail
    erf = np.vectorize(math.erf)
    exact = x.astype(np.float64) * 0.5 * (1.0 + erf(x.astype(np.float64) / math.sqrt(2.0)))
    ours = bert._gelu(x.copy())
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, exact, rtol=2e-6, atol=1e-6)
    assert bert._gelu(np.zeros(3, dtype=np.float32)).tolist() == [0.0, 0.0, 0.0]


def test_gelu_of_a_non_contiguous_array() -> None:
    x = np.linspace(-4, 4, 600, dtype=np.float32).reshape(20, 30)
    np.testing.assert_array_equal(bert._gelu(x.T.copy()), bert._gelu(x.T))


def test_layer_norm_matches_float64(minilm: MiniLM) -> None:
    encoder = minilm._encoder
    norm = encoder._layers[0].attention_norm
    x = np.random.default_rng(3).normal(2.0, 5.0, (7, 384)).astype(np.float32)
    wide = x.astype(np.float64)
    centred = wide - wide.mean(axis=1, keepdims=True)
    expected = centred / np.sqrt((centred**2).mean(axis=1, keepdims=True) + 1e-12)
    expected = expected * norm.gain + norm.bias
    np.testing.assert_allclose(encoder._layer_norm(x.copy(), norm), expected, atol=2e-5)


# --- MiniLM: one text alone (the question path) -----------------------------------------


@pytest.fixture(scope="module")
def float64_weights() -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    tensors = load_file(model_folder() / "model.safetensors")
    return {name: tensor.astype(np.float64) for name, tensor in tensors.items()}


def reference_minilm(ids: list[int], w: dict[str, np.ndarray]) -> np.ndarray:
    """all-MiniLM-L6-v2 in float64, written plainly from the safetensors names: no fused
    projections, no in-place steps, no row padding."""

    def norm(x: np.ndarray, name: str) -> np.ndarray:
        x = x - x.mean(axis=-1, keepdims=True)
        x = x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + 1e-12)
        return x * w[name + ".weight"] + w[name + ".bias"]

    def dense(x: np.ndarray, name: str) -> np.ndarray:
        return x @ w[name + ".weight"].T + w[name + ".bias"]

    e = "embeddings."
    x = w[e + "word_embeddings.weight"][ids] + w[e + "position_embeddings.weight"][: len(ids)]
    x = norm(x + w[e + "token_type_embeddings.weight"][0], e + "LayerNorm")
    erf = np.vectorize(math.erf)
    for i in range(6):
        p = f"encoder.layer.{i}."
        q, k, v = (
            dense(x, p + f"attention.self.{n}").reshape(len(ids), 12, 32).transpose(1, 0, 2)
            for n in ("query", "key", "value")
        )
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(32)
        weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
        weights /= weights.sum(axis=-1, keepdims=True)
        context = (weights @ v).transpose(1, 0, 2).reshape(len(ids), 384)
        x = norm(x + dense(context, p + "attention.output.dense"), p + "attention.output.LayerNorm")
        h = dense(x, p + "intermediate.dense")
        h = h * 0.5 * (1.0 + erf(h / math.sqrt(2.0)))
        x = norm(x + dense(h, p + "output.dense"), p + "output.LayerNorm")
    pooled: np.ndarray = x.mean(axis=0)
    return pooled / np.linalg.norm(pooled)


@pytest.mark.parametrize("text", ["", "Hi", DOG, "When did Caroline go to the support group?"])
def test_minilm_single_text_matches_a_float64_reference(
    minilm: MiniLM, float64_weights: dict[str, np.ndarray], text: str
) -> None:
    # Any shortcut of the question path (row padding, sliced keys, in-place steps) has to
    # leave the vector where a plain float64 forward pass puts it.
    ours = minilm.embed([text])[0]
    reference = reference_minilm(minilm._tokenizer.encode(text).ids, float64_weights)
    assert float(ours @ reference) > 0.99999
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_minilm_batch_matches_a_float64_reference(
    minilm: MiniLM, float64_weights: dict[str, np.ndarray]
) -> None:
    texts = ["", "Hi", DOG, "When did Caroline go to the support group?"]  # one padded batch
    reference = np.vstack(
        [reference_minilm(minilm._tokenizer.encode(t).ids, float64_weights) for t in texts]
    )
    np.testing.assert_allclose(minilm.embed(texts), reference, atol=1e-5)


def test_minilm_single_text_equals_batched(minilm: MiniLM) -> None:
    # Every token count from 2 to 21 (each remainder of the row padding) and a 256-token
    # text, each batched with a slightly longer text (the same batch: it pads and masks).
    for text in [" ".join(["cat"] * n) for n in range(20)] + ["dog " * 400]:
        alone = minilm.embed([text])[0]
        batched = minilm.embed([text, text + " and a few more words"])[0]
        np.testing.assert_allclose(alone, batched, atol=1e-5, err_msg=text[:40])


def test_minilm_encode_one_equals_the_masked_batch(minilm: MiniLM) -> None:
    encoder = minilm._encoder
    for length in (1, 2, 5, 8, 13, 16):
        ids = list(range(1000, 1000 + length))
        padded = np.zeros((2, 20), dtype=np.int64)
        padded[0, :length] = ids
        padded[1] = range(2000, 2020)
        mask = (padded != 0).astype(np.float32)
        alone = encoder.encode_one(ids)
        assert alone.shape == (length, 384)
        np.testing.assert_allclose(alone, encoder(padded, mask)[0, :length], atol=1e-5)


@pytest.mark.parametrize("multiple", [1, 8])
def test_minilm_row_padding_changes_nothing(
    minilm: MiniLM, monkeypatch: pytest.MonkeyPatch, multiple: int
) -> None:
    texts = [DOG, "Hi", "a b c d e f g h i j k l m"]
    expected = np.vstack([minilm.embed([text]) for text in texts])
    monkeypatch.setattr(bert, "_ROW_MULTIPLE", multiple)
    padded = np.vstack([minilm.embed([text]) for text in texts])
    np.testing.assert_allclose(padded, expected, atol=1e-5)


def test_minilm_encode_one_refuses_too_many_tokens(minilm: MiniLM) -> None:
    with pytest.raises(ValueError, match="exceed"):
        minilm._encoder.encode_one([100] * 513)


def test_minilm_single_texts_from_many_threads(minilm: MiniLM) -> None:
    texts = VARIED[::3]
    expected = [minilm.embed([text])[0] for text in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda text: minilm.embed([text])[0], texts * 3))
    for result, want in zip(results, expected * 3, strict=True):
        np.testing.assert_allclose(result, want, atol=1e-6)


# --- WordLlama --------------------------------------------------------------------------


def test_wordllama_name_and_size(wordllama: Embedder) -> None:
    assert (wordllama.name, wordllama.dim) == ("wordllama-256", 256)


def test_wordllama_empty_text_is_a_zero_row(wordllama: Embedder) -> None:
    vectors = wordllama.embed(["", DOG])
    assert not vectors[0].any()
    assert float(np.linalg.norm(vectors[1])) == pytest.approx(1.0, abs=1e-5)


def test_wordllama_loads_offline_and_leaves_logging_alone() -> None:
    # A fresh process: wordllama configures the root logger when first imported.
    code = (
        "import logging\n"
        "from afterdark.memory.embeddings.wordllama import WordLlamaEmbedder\n"
        "model = WordLlamaEmbedder.load()\n"
        "assert model.embed(['hello']).shape == (1, 256)\n"
        "root = logging.getLogger()\n"
        "assert root.handlers == [] and root.level == logging.WARNING, root.handlers\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- the fake ---------------------------------------------------------------------------


def test_fake_is_deterministic() -> None:
    first, second = FakeEmbedder(), FakeEmbedder()
    np.testing.assert_array_equal(first.embed(VARIED), second.embed(VARIED))
    assert (first.name, first.dim) == ("fake-64", 64)


def test_fake_shared_words_score_higher() -> None:
    fake = FakeEmbedder()
    assert cosine(fake, "the red kite flew", "a red kite") > cosine(fake, "the red kite", "soup")
    assert cosine(fake, "Red Kite", "red kite!") == pytest.approx(1.0, abs=1e-6)


def test_fake_other_sizes_and_empty_text() -> None:
    fake = FakeEmbedder(dim=8)
    vectors = fake.embed(["", "one two"])
    assert fake.name == "fake-8"
    assert vectors.shape == (2, 8)
    assert not vectors[0].any()
    with pytest.raises(ValueError, match="dim"):
        FakeEmbedder(dim=0)


# --- the registry -----------------------------------------------------------------------


def test_registry_shares_one_instance_per_model() -> None:
    assert create_embedder("fake") is create_embedder("fake")
    assert create_embedder("minilm") is create_embedder("minilm")


def test_registry_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="minilm, wordllama, fake"):
        create_embedder("word2vec")
