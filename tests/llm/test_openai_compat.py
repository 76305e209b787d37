"""The ``openai`` backend against the stand-in server, over a real loopback socket."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from afterdark.config import LLMSettings
from afterdark.llm.base import (
    ChatMessage,
    Chunk,
    GenerationRequest,
    LLMBackend,
    LLMResponseError,
    LLMTimeoutError,
    LLMUnavailableError,
    SamplerSettings,
    Usage,
)
from afterdark.llm.openai_compat import OpenAICompatBackend
from afterdark.llm.tokenizer import GGUFTokenizer
from tests.support.openai_standin import StandIn, default_reply, run_standin

MakeBackend = Callable[..., OpenAICompatBackend]


def ask(text: str = "Hello there", **sampler: object) -> GenerationRequest:
    return GenerationRequest(
        messages=[ChatMessage("system", "You are Ada."), ChatMessage("user", text)],
        sampler=SamplerSettings.model_validate(sampler),
    )


async def collect(backend: LLMBackend, request: GenerationRequest) -> list[Chunk]:
    return [chunk async for chunk in backend.stream(request)]


def text_of(chunks: list[Chunk]) -> str:
    return "".join(chunk.text for chunk in chunks)


async def wait_for(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_streams_the_reply_with_usage(server: StandIn, make_backend: MakeBackend) -> None:
    server.reply = "The quick brown fox jumps."
    backend = make_backend()
    assert isinstance(backend, LLMBackend)

    chunks = await collect(backend, ask("one two three"))

    assert text_of(chunks) == "The quick brown fox jumps."
    assert len(chunks) == 6  # five word tokens, then the final chunk
    assert all(c.finish_reason is None and c.usage is None for c in chunks[:-1])
    assert chunks[-1] == Chunk("", finish_reason="stop", usage=Usage(6, 5))


async def test_sends_the_messages_and_sampler(server: StandIn, make_backend: MakeBackend) -> None:
    backend = make_backend(model="served-model")
    request = ask(temperature=0.5, top_p=0.8, min_p=0.05, top_k=40, stop=["\nUser:"])

    await collect(backend, request)

    body = server.requests[-1]
    assert body["model"] == "served-model"
    assert body["messages"] == [
        {"role": "system", "content": "You are Ada."},
        {"role": "user", "content": "Hello there"},
    ]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 300
    assert body["temperature"] == 0.5
    assert body["top_p"] == 0.8
    assert body["min_p"] == 0.05
    assert body["top_k"] == 40
    assert body["repetition_penalty"] == 1.1
    assert body["stop"] == ["\nUser:"]


async def test_omits_unset_values(server: StandIn, make_backend: MakeBackend) -> None:
    await collect(make_backend(), ask(temperature=None, repetition_penalty=None))

    body = server.requests[-1]
    for absent in ("model", "temperature", "min_p", "top_k", "repetition_penalty", "stop"):
        assert absent not in body


async def test_extended_samplers_can_be_turned_off(
    server: StandIn, make_backend: MakeBackend
) -> None:
    await collect(make_backend(extended_samplers=False), ask(min_p=0.1, top_k=20))

    body = server.requests[-1]
    assert {"min_p", "top_k", "repetition_penalty"}.isdisjoint(body)
    assert body["temperature"] == 0.7


async def test_extra_body_and_headers(server: StandIn, make_backend: MakeBackend) -> None:
    backend = make_backend(
        api_key="sk-test",
        extra_headers={"HTTP-Referer": "https://afterdark.example", "X-Title": "Afterdark"},
        extra_body={"provider": {"order": ["a"]}, "top_k": 7},
    )
    server.api_key = "sk-test"

    chunks = await collect(backend, ask())

    assert chunks[-1].finish_reason == "stop"
    body, headers = server.requests[-1], server.headers[-1]
    assert body["provider"] == {"order": ["a"]}
    assert body["top_k"] == 7  # extra_body wins over the sampler
    assert headers["Authorization"] == "Bearer sk-test"
    assert headers["HTTP-Referer"] == "https://afterdark.example"
    assert headers["X-Title"] == "Afterdark"


async def test_prefill_is_sent_as_the_last_assistant_message(
    server: StandIn, make_backend: MakeBackend
) -> None:
    request = ask()
    request.prefill = "Well, I suppose"

    await collect(make_backend(), request)

    assert server.requests[-1]["messages"][-1] == {
        "role": "assistant",
        "content": "Well, I suppose",
    }


async def test_max_tokens_ends_with_length(server: StandIn, make_backend: MakeBackend) -> None:
    chunks = await collect(make_backend(), ask(max_tokens=3))

    assert text_of(chunks) == default_reply(3)
    assert chunks[-1].finish_reason == "length"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 3


async def test_whole_json_answer_when_the_server_does_not_stream(
    server: StandIn, make_backend: MakeBackend
) -> None:
    server.reply = "Not streamed at all."
    backend = make_backend(extra_body={"stream": False})

    chunks = await collect(backend, ask())

    assert text_of(chunks) == "Not streamed at all."
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage == Usage(5, 4)


async def test_wrong_key_is_a_response_error(server: StandIn, make_backend: MakeBackend) -> None:
    server.api_key = "right"

    with pytest.raises(LLMResponseError) as caught:
        await collect(make_backend(api_key="wrong"), ask())

    assert caught.value.status == 401
    assert str(caught.value) == "The language model server answered 401: invalid key"


async def test_server_error_carries_its_message(server: StandIn, make_backend: MakeBackend) -> None:
    server.fail_status, server.fail_message = 500, "CUDA out of memory"

    with pytest.raises(LLMResponseError, match="answered 500: CUDA out of memory") as caught:
        await collect(make_backend(), ask())

    assert caught.value.status == 500


async def test_server_down_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        base_url = f"http://127.0.0.1:{port}/v1"
        backend = OpenAICompatBackend(LLMSettings(backend="openai", base_url=base_url))
        try:
            with pytest.raises(LLMUnavailableError) as caught:
                await collect(backend, ask())
        finally:
            await backend.aclose()

    assert str(caught.value) == (
        f"Could not reach the language model server at {base_url}: Connection refused."
    )


async def test_unknown_host_is_unavailable() -> None:
    base_url = "http://afterdark-no-such-host.invalid/v1"
    backend = OpenAICompatBackend(
        LLMSettings(backend="openai", base_url=base_url, connect_timeout=5)
    )
    try:
        with pytest.raises(LLMUnavailableError, match="Could not reach the language model"):
            await collect(backend, ask())
    finally:
        await backend.aclose()


async def test_silence_before_the_first_token_times_out(
    server: StandIn, make_backend: MakeBackend
) -> None:
    server.hang_after = 0  # headers and the role chunk arrive, then nothing
    backend = make_backend(first_token_timeout=0.3)
    started = time.monotonic()

    with pytest.raises(LLMTimeoutError, match="did not start replying within 0.3 s"):
        await collect(backend, ask())

    assert time.monotonic() - started < 2
    await wait_for(lambda: server.disconnects == 1)


async def test_slow_headers_time_out(server: StandIn, make_backend: MakeBackend) -> None:
    server.first_token_delay = 2.0

    with pytest.raises(LLMTimeoutError, match="did not start replying"):
        await collect(make_backend(first_token_timeout=0.2), ask())


async def test_silence_mid_reply_times_out(server: StandIn, make_backend: MakeBackend) -> None:
    server.hang_after = 3
    backend = make_backend(idle_timeout=0.3)
    received: list[str] = []

    async def consume() -> None:
        async for chunk in backend.stream(ask()):
            received.append(chunk.text)

    with pytest.raises(LLMTimeoutError, match="sent nothing for 0.3 s mid-reply"):
        await consume()

    assert "".join(received) == default_reply(3)


async def test_slow_consumer_is_not_an_idle_timeout(
    server: StandIn, make_backend: MakeBackend
) -> None:
    server.tokens = 4
    backend = make_backend(idle_timeout=0.2)
    chunks = []
    async for chunk in backend.stream(ask()):
        chunks.append(chunk)
        await asyncio.sleep(0.15)  # the consumer's time does not count against the server

    assert chunks[-1].finish_reason == "stop"


async def test_dropped_connection_is_a_response_error(
    server: StandIn, make_backend: MakeBackend
) -> None:
    server.drop_after = 2

    with pytest.raises(LLMResponseError, match="mid-reply"):
        await collect(make_backend(), ask())


async def test_cancelling_the_consumer_closes_the_request(
    server: StandIn, make_backend: MakeBackend
) -> None:
    server.tokens, server.token_delay = 500, 0.02
    backend = make_backend()
    first = asyncio.Event()

    async def consume() -> None:
        async for _chunk in backend.stream(ask()):
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    await wait_for(lambda: server.disconnects == 1)
    assert server.completed == 0


async def test_leaving_the_loop_early_closes_the_request(
    server: StandIn, make_backend: MakeBackend
) -> None:
    server.tokens, server.token_delay = 500, 0.02
    stream = make_backend().stream(ask())
    async for _chunk in stream:
        break
    await stream.aclose()  # type: ignore[attr-defined]

    await wait_for(lambda: server.disconnects == 1)
    assert server.completed == 0


async def test_many_concurrent_streams(server: StandIn, make_backend: MakeBackend) -> None:
    server.tokens, server.token_delay = 20, 0.005
    backend = make_backend()

    results = await asyncio.gather(*(collect(backend, ask()) for _ in range(200)))

    assert {text_of(chunks) for chunks in results} == {default_reply(20)}
    assert server.completed == 200


async def test_connections_are_reused(server: StandIn, make_backend: MakeBackend) -> None:
    backend = make_backend()
    for _ in range(3):
        await collect(backend, ask())

    assert len(server.peers) == 3
    assert len(set(server.peers)) == 1  # one keep-alive connection carried all three


def test_threaded_stand_in_serves_another_loop() -> None:
    async def main(base_url: str) -> list[Chunk]:
        backend = OpenAICompatBackend(LLMSettings(backend="openai", base_url=base_url))
        try:
            return await collect(backend, ask())
        finally:
            await backend.aclose()

    with run_standin(reply="From a thread.") as server:
        assert server.base_url.endswith("/v1")
        chunks = asyncio.run(main(server.base_url))

    assert text_of(chunks) == "From a thread."


def test_counts_tokens_with_a_gguf_vocabulary() -> None:
    backend = OpenAICompatBackend(LLMSettings(backend="openai"))

    assert isinstance(backend.tokenizer, GGUFTokenizer)
    assert backend.tokenizer.count("Hello world, how are you?") == 7
    assert backend.context_size == 2048


def test_missing_tokenizer_file_is_unavailable(tmp_path: Path) -> None:
    missing = tmp_path / "vocab.gguf"

    with pytest.raises(LLMUnavailableError, match=str(missing)):
        OpenAICompatBackend(LLMSettings(backend="openai", tokenizer_path=missing))
