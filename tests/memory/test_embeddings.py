"""The memory embedders: shapes, unit rows, batching, truncation, meaning, and MiniLM's
numpy BERT checked against the similarities sentence-transformers publishes."""

from __future__ import annotations

import asyncio
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
def minilm() -> Embedder:
    return create_embedder("minilm")


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
    special = pytest.importorskip("scipy.special")
    x = np.linspace(-8, 8, 100_000, dtype=np.float32).reshape(1000, 100)
    exact = x.astype(np.float64) * 0.5 * (1.0 + special.erf(x.astype(np.float64) / np.sqrt(2.0)))
    ours = bert._gelu(x.copy())
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, exact, rtol=2e-6, atol=1e-6)


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
