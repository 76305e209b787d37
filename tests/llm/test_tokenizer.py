"""Token counting with GGUF vocabularies, and finding the packaged model."""

from __future__ import annotations

from pathlib import Path

import pytest

from afterdark.llm.base import LLMUnavailableError, Tokenizer
from afterdark.llm.tokenizer import (
    ApproximateTokenizer,
    GGUFTokenizer,
    check_gguf,
    packaged_model_path,
    tokenizer_for,
)


def test_packaged_model_is_found() -> None:
    path = packaged_model_path()
    assert path.suffix == ".gguf"
    assert check_gguf(path) == path


def test_counts_with_the_model_vocabulary() -> None:
    tokenizer = tokenizer_for(None)

    assert isinstance(tokenizer, GGUFTokenizer)
    assert isinstance(tokenizer, Tokenizer)
    assert tokenizer.count("") == 0
    assert tokenizer.count("Hello world, how are you?") == 7
    assert tokenizer.count("ünïcödé ✨ text") > 3
    # Special-token text counts as plain text, not as one control token.
    assert tokenizer.count("<|im_start|>") > 1


def test_a_directory_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(LLMUnavailableError, match=f"Cannot read the model file {tmp_path}"):
        check_gguf(tmp_path)


def test_estimate_when_no_vocabulary() -> None:
    assert ApproximateTokenizer().count("12345678") == 2
    assert ApproximateTokenizer().count("123456789") == 3
