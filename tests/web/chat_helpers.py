"""Helpers for chat API tests: parse SSE bodies, start conversations."""

from __future__ import annotations

from typing import Any

import httpx
import orjson


def parse_sse(body: str) -> list[dict[str, Any]]:
    """Events of an SSE body as dicts with id, event and decoded data."""
    events = []
    for block in body.strip().split("\n\n"):
        if not block.strip():
            continue
        event: dict[str, Any] = {}
        for line in block.split("\n"):
            key, _, value = line.partition(": ")
            if key == "data":
                event["data"] = orjson.loads(value)
            elif key in ("id", "event"):
                event[key] = value
        events.append(event)
    return events


def streamed_text(events: list[dict[str, Any]]) -> str:
    return "".join(e["data"]["text"] for e in events if e.get("event") == "token")


async def start_conversation(
    http: httpx.AsyncClient, name: str = "Mara Quill", scene: str = ""
) -> dict[str, Any]:
    characters = (await http.get("/api/v1/characters")).json()
    character = next(c for c in characters if c["name"] == name)
    response = await http.post(
        "/api/v1/conversations", json={"character_id": character["id"], "scene": scene}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def events_of(
    http: httpx.AsyncClient, generation_id: int, **headers: str
) -> list[dict[str, Any]]:
    response = await http.get(f"/api/v1/generations/{generation_id}/events", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_sse(response.text)
