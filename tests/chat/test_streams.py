from __future__ import annotations

import asyncio

from afterdark.chat.streams import Event, GenerationStream, coalesce


def test_event_encoding_is_sse() -> None:
    event = Event(3, "token", {"text": "hi\nthere"})
    assert event.encode() == b'id: 3\nevent: token\ndata: {"text":"hi\\nthere"}\n\n'


def test_coalesce_merges_token_runs_only() -> None:
    events = [
        Event(0, "start", {}),
        Event(1, "token", {"text": "a"}),
        Event(2, "token", {"text": "b"}),
        Event(3, "done", {}),
    ]
    merged = coalesce(events)
    assert [(e.id, e.name) for e in merged] == [(0, "start"), (2, "token"), (3, "done")]
    assert merged[1].data == {"text": "ab"}


async def test_subscribers_see_every_event_and_can_resume() -> None:
    stream = GenerationStream(1)
    stream.publish("start", {"n": 0})

    async def collect(after: int) -> str:
        text = ""
        async for batch in stream.subscribe(after):
            for event in batch:
                if event.name == "token":
                    text += event.data["text"]
        return text

    live = asyncio.create_task(collect(-1))
    for piece in ["Hel", "lo", " there"]:
        await asyncio.sleep(0)
        stream.publish("token", {"text": piece})
    stream.publish("done", {})
    assert await live == "Hello there"
    # A late subscriber resuming after event 1 ("Hel") gets the rest.
    assert await collect(1) == "lo there"
    # Resuming after the last event yields nothing and ends.
    assert await collect(len(stream.events) - 1) == ""


async def test_idle_subscriber_gets_keepalive_ticks() -> None:
    stream = GenerationStream(2)
    stream.publish("start", {})
    batches: list[list[Event]] = []

    async def collect() -> None:
        async for batch in stream.subscribe(0, keepalive=0.01):
            batches.append(batch)

    task = asyncio.create_task(collect())
    await asyncio.sleep(0.05)
    stream.publish("done", {})
    await task
    assert [] in batches  # at least one idle tick while nothing happened
    assert batches[-1][-1].name == "done"
