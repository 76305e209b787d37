"""Decoding server-sent events, independent of any socket."""

from __future__ import annotations

import pytest

from afterdark.llm.base import LLMResponseError, Usage
from afterdark.llm.openai_compat import _Lines, _Reply


def test_lines_survive_any_split() -> None:
    stream = (
        b": keep-alive comment\r\n\r\n"
        b'data: {"choices":[{"delta":{"content":"Hi"}}]}\r\n\r\n'
        b"event: message\n"
        b'data:{"choices":[{"delta":{"content":" there"}}]}\n\n'
        b"data: [DONE]\n\n"
    )
    for size in (1, 2, 7, len(stream)):
        lines = _Lines()
        payloads = []
        for start in range(0, len(stream), size):
            payloads += lines.feed(stream[start : start + size])
        payloads += lines.finish()
        assert payloads == [
            b'{"choices":[{"delta":{"content":"Hi"}}]}',
            b'{"choices":[{"delta":{"content":" there"}}]}',
            b"[DONE]",
        ]


def test_last_line_without_newline_is_kept() -> None:
    lines = _Lines()
    assert lines.feed(b"data: [DONE]") == []
    assert lines.finish() == [b"[DONE]"]


def test_reply_records_finish_and_usage() -> None:
    reply = _Reply()

    assert reply.feed(b'{"choices":[{"delta":{"role":"assistant","content":""}}]}') is None
    assert reply.feed(b'{"choices":[{"delta":{"content":"Yes"},"finish_reason":null}]}') == "Yes"
    assert reply.feed(b'{"choices":[{"delta":{},"finish_reason":"length"}]}') is None
    assert reply.feed(b'{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":1}}') is None
    assert reply.feed(b"[DONE]") is None

    assert (reply.finish_reason, reply.usage, reply.done) == ("length", Usage(9, 1), True)


def test_error_event_mid_stream() -> None:
    with pytest.raises(LLMResponseError, match="reported an error: upstream overloaded"):
        _Reply().feed(b'{"error":{"message":"upstream overloaded","code":502}}')


def test_garbage_is_a_response_error() -> None:
    with pytest.raises(LLMResponseError, match="not JSON"):
        _Reply().feed(b"<html>")
