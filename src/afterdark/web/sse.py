"""Server-Sent Events responses."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Request
from starlette.responses import StreamingResponse

from afterdark.chat.streams import Event


def last_event_id(request: Request) -> int:
    """The id to resume after: the Last-Event-ID header, else ?last_event_id=, else -1."""
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id", "")
    return int(raw) if raw.strip().isdigit() else -1


KEEPALIVE_SECONDS = 15.0


async def _encode(batches: AsyncIterator[list[Event]]) -> AsyncIterator[bytes]:
    async for batch in batches:
        # An empty batch is an idle tick: an SSE comment keeps proxies from closing the stream.
        yield b"".join(event.encode() for event in batch) if batch else b": keep-alive\n\n"


def sse_response(batches: AsyncIterator[list[Event]], status_code: int = 200) -> StreamingResponse:
    return StreamingResponse(
        _encode(batches),
        status_code=status_code,
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )
