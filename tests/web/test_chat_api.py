"""The chat engine through the HTTP API, against the OpenAI-protocol stand-in on loopback."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.conftest import signup
from tests.web.chat_helpers import events_of, parse_sse, start_conversation, streamed_text


@pytest.fixture
def llm_base_url(standin: Any) -> str:
    return str(standin.base_url)


async def send(http: httpx.AsyncClient, conversation_id: int, text: str) -> dict[str, Any]:
    response = await http.post(
        f"/api/v1/conversations/{conversation_id}/messages", json={"content": text}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_conversation_opens_with_greeting_swipes(user_client: httpx.AsyncClient) -> None:
    conversation = await start_conversation(user_client, scene="the lamp room, past midnight")
    assert conversation["scene"] == "the lamp room, past midnight"
    [greeting] = conversation["messages"]
    assert greeting["role"] == "assistant"
    assert greeting["swipe_count"] == 3
    assert greeting["swipe_index"] == 0
    swiped = await user_client.post(
        f"/api/v1/messages/{greeting['id']}/swipe", json={"direction": "right"}
    )
    assert swiped.json()["messages"][0]["swipe_index"] == 1
    assert "Jupiter" in swiped.json()["messages"][0]["content"]


async def test_send_streams_reply_and_saves_it(
    user_client: httpx.AsyncClient, standin: Any
) -> None:
    standin.reply = "The kettle is already on, traveller."
    await user_client.put(
        "/api/v1/me/persona", json={"name": "Sam", "description": "A stranded geologist."}
    )
    conversation = await start_conversation(
        user_client, scene="the cabin, late, you have been waiting"
    )
    turn = await send(user_client, conversation["id"], "Hello, {{char}}!")
    assert turn["reply"]["status"] == "streaming"
    events = await events_of(user_client, turn["generation_id"])
    assert events[0]["event"] == "start"
    assert events[-1]["event"] == "done"
    assert events[-1]["data"]["status"] == "complete"
    assert streamed_text(events) == standin.reply
    assert [int(e["id"]) for e in events] == sorted(int(e["id"]) for e in events)

    saved = (await user_client.get(f"/api/v1/conversations/{conversation['id']}")).json()
    assert [m["role"] for m in saved["messages"]] == ["assistant", "user", "assistant"]
    assert saved["messages"][-1]["content"] == standin.reply
    assert saved["messages"][-1]["status"] == "complete"
    assert saved["generation_id"] is None
    assert saved["title"] == "Hello, {{char}}!"

    prompt = standin.requests[-1]["messages"]
    system = prompt[0]["content"]
    assert prompt[0]["role"] == "system"
    assert "Mara Quill" in system
    assert "lighthouse" in system
    assert "the cabin, late, you have been waiting" in system
    assert "A stranded geologist." in system
    assert prompt[-1] == {"role": "user", "content": "Hello, Mara Quill!"}
    assert standin.requests[-1]["stream"] is True
    assert standin.requests[-1]["temperature"] == 0.7


async def test_send_with_stream_flag_answers_sse(
    user_client: httpx.AsyncClient, standin: Any
) -> None:
    standin.reply = "Right here."
    conversation = await start_conversation(user_client)
    response = await user_client.post(
        f"/api/v1/conversations/{conversation['id']}/messages?stream=true",
        json={"content": "Where are you?"},
    )
    assert response.status_code == 201
    events = parse_sse(response.text)
    assert streamed_text(events) == "Right here."
    assert events[-1]["data"]["status"] == "complete"


async def test_reconnect_resumes_after_last_event_id(
    user_client: httpx.AsyncClient, standin: Any
) -> None:
    standin.reply = "one two three four five"
    conversation = await start_conversation(user_client)
    turn = await send(user_client, conversation["id"], "Count for me.")
    everything = await events_of(user_client, turn["generation_id"])
    first_token = next(e for e in everything if e["event"] == "token")
    rest = await events_of(
        user_client, turn["generation_id"], **{"Last-Event-ID": first_token["id"]}
    )
    assert int(rest[0]["id"]) > int(first_token["id"])
    assert first_token["data"]["text"] + streamed_text(rest) == standin.reply
    by_query = await user_client.get(
        f"/api/v1/generations/{turn['generation_id']}/events?last_event_id={everything[-1]['id']}"
    )
    assert parse_sse(by_query.text) == []


async def test_finished_generation_evicted_from_memory_replays_from_database(
    user_client: httpx.AsyncClient, standin: Any, app: Any
) -> None:
    standin.reply = "Saved words."
    conversation = await start_conversation(user_client)
    turn = await send(user_client, conversation["id"], "Hi")
    await events_of(user_client, turn["generation_id"])
    app.state.runtime.generations.hub._streams.clear()
    events = await events_of(user_client, turn["generation_id"])
    assert [e["event"] for e in events] == ["done"]
    assert events[0]["data"]["content"] == "Saved words."
    assert events[0]["data"]["status"] == "complete"


async def test_regenerate_adds_swipes_and_swipe_moves_between_them(
    user_client: httpx.AsyncClient, standin: Any
) -> None:
    conversation = await start_conversation(user_client)
    standin.reply = "First answer."
    turn = await send(user_client, conversation["id"], "Tell me something.")
    await events_of(user_client, turn["generation_id"])
    standin.reply = "Second answer."
    again = await user_client.post(f"/api/v1/messages/{turn['reply']['id']}/regenerate")
    assert again.status_code == 201
    second = again.json()
    await events_of(user_client, second["generation_id"])
    state = (await user_client.get(f"/api/v1/conversations/{conversation['id']}")).json()
    last = state["messages"][-1]
    assert (last["content"], last["swipe_index"], last["swipe_count"]) == ("Second answer.", 1, 2)
    # The regeneration saw the same history, not the first answer.
    assert standin.requests[-1]["messages"][-1]["content"] == "Tell me something."

    left = await user_client.post(
        f"/api/v1/messages/{last['id']}/swipe", json={"direction": "left"}
    )
    assert left.json()["messages"][-1]["content"] == "First answer."
    edge = await user_client.post(
        f"/api/v1/messages/{turn['reply']['id']}/swipe", json={"direction": "left"}
    )
    assert edge.status_code == 409
    assert "first swipe" in edge.json()["error"]["message"]


async def test_continue_extends_the_reply_with_a_prefill(
    user_client: httpx.AsyncClient, standin: Any
) -> None:
    conversation = await start_conversation(user_client)
    standin.reply = "She looks up"
    turn = await send(user_client, conversation["id"], "Mara?")
    await events_of(user_client, turn["generation_id"])
    standin.reply = " and smiles."
    response = await user_client.post(f"/api/v1/messages/{turn['reply']['id']}/continue")
    assert response.status_code == 201
    events = await events_of(user_client, response.json()["generation_id"])
    assert events[-1]["data"]["content"] == "She looks up and smiles."
    assert standin.requests[-1]["messages"][-1] == {"role": "assistant", "content": "She looks up"}
    state = (await user_client.get(f"/api/v1/conversations/{conversation['id']}")).json()
    assert state["messages"][-1]["content"] == "She looks up and smiles."
    assert state["messages"][-1]["swipe_count"] == 1


async def test_impersonate_drafts_without_saving(
    user_client: httpx.AsyncClient, standin: Any
) -> None:
    conversation = await start_conversation(user_client)
    standin.reply = "I shake the rain off my coat."
    response = await user_client.post(f"/api/v1/conversations/{conversation['id']}/impersonate")
    assert response.status_code == 201
    events = await events_of(user_client, response.json()["generation_id"])
    assert events[0]["data"]["kind"] == "impersonate"
    assert events[-1]["data"]["content"] == "I shake the rain off my coat."
    state = (await user_client.get(f"/api/v1/conversations/{conversation['id']}")).json()
    assert len(state["messages"]) == 1
    assert "next message" in standin.requests[-1]["messages"][-1]["content"]


async def test_edit_delete_and_branch(user_client: httpx.AsyncClient, standin: Any) -> None:
    conversation = await start_conversation(user_client)
    standin.reply = "Reply one."
    one = await send(user_client, conversation["id"], "First line.")
    await events_of(user_client, one["generation_id"])
    standin.reply = "Reply two."
    two = await send(user_client, conversation["id"], "Second line.")
    await events_of(user_client, two["generation_id"])

    edited = await user_client.patch(
        f"/api/v1/messages/{one['user_message']['id']}", json={"content": "First line, edited."}
    )
    assert edited.status_code == 200
    assert edited.json()["edited_at"] is not None

    branch = await user_client.post(f"/api/v1/messages/{one['reply']['id']}/branch")
    assert branch.status_code == 201
    copy = branch.json()
    assert copy["id"] != conversation["id"]
    assert copy["branched_from"] == {
        "conversation_id": conversation["id"],
        "message_id": one["reply"]["id"],
    }
    assert [m["content"] for m in copy["messages"][1:]] == ["First line, edited.", "Reply one."]

    after_delete = await user_client.delete(f"/api/v1/messages/{two['user_message']['id']}")
    assert [m["content"] for m in after_delete.json()["messages"][1:]] == [
        "First line, edited.",
        "Reply one.",
    ]
    # The branch is independent of the original.
    kept = (await user_client.get(f"/api/v1/conversations/{copy['id']}")).json()
    assert len(kept["messages"]) == 3
    listed = (await user_client.get("/api/v1/conversations")).json()
    assert {c["id"] for c in listed} == {conversation["id"], copy["id"]}


async def test_backend_error_is_shown_and_nothing_is_lost(
    user_client: httpx.AsyncClient, standin: Any
) -> None:
    conversation = await start_conversation(user_client)
    standin.fail_status = 500
    standin.fail_message = "model exploded"
    turn = await send(user_client, conversation["id"], "Are you there?")
    done = (await events_of(user_client, turn["generation_id"]))[-1]
    assert done["data"]["status"] == "error"
    assert "500" in done["data"]["error"]
    assert "model exploded" in done["data"]["error"]
    state = (await user_client.get(f"/api/v1/conversations/{conversation['id']}")).json()
    assert state["messages"][-2]["content"] == "Are you there?"
    assert state["messages"][-1]["status"] == "error"
    assert "model exploded" in state["messages"][-1]["error"]
    # Recovering: regenerate once the backend is back.
    standin.fail_status = None
    standin.reply = "Here now."
    again = await user_client.post(f"/api/v1/messages/{turn['reply']['id']}/regenerate")
    assert (await events_of(user_client, again.json()["generation_id"]))[-1]["data"][
        "status"
    ] == "complete"


async def test_stream_dropped_mid_reply_keeps_partial_text(
    user_client: httpx.AsyncClient, standin: Any
) -> None:
    conversation = await start_conversation(user_client)
    standin.reply = "alpha beta gamma delta epsilon"
    standin.drop_after = 2
    turn = await send(user_client, conversation["id"], "Go on.")
    done = (await events_of(user_client, turn["generation_id"]))[-1]["data"]
    assert done["status"] == "error"
    assert done["content"].startswith("alpha")
    state = (await user_client.get(f"/api/v1/conversations/{conversation['id']}")).json()
    assert state["messages"][-1]["content"] == done["content"]


async def test_bad_input_gets_clear_4xx(client: httpx.AsyncClient) -> None:
    await signup(client)
    conversation = await start_conversation(client)
    url = f"/api/v1/conversations/{conversation['id']}/messages"
    empty = await client.post(url, json={"content": "   "})
    assert (empty.status_code, empty.json()["error"]["message"]) == (422, "The message is empty.")
    huge = await client.post(url, json={"content": "x" * 1_000_000})
    assert huge.status_code in (413, 422)
    assert "limit" in huge.json()["error"]["message"]
    malformed = await client.post(
        url, content=b'{"content": ', headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 422
    assert "JSON" in malformed.json()["error"]["message"]
    wrong_type = await client.post(url, json={"content": 42})
    assert wrong_type.status_code == 422
    assert "content" in wrong_type.json()["error"]["message"]
    extra = await client.post(url, json={"content": "hi", "sneaky": True})
    assert extra.status_code == 422
    assert (await client.get("/api/v1/conversations/999999")).status_code == 404
    assert (
        await client.post("/api/v1/conversations/abc/messages", json={"content": "x"})
    ).status_code == 422
    assert (await client.get("/api/v1/generations/424242/events")).status_code == 404
    bad_swipe = await client.post(
        f"/api/v1/messages/{conversation['messages'][0]['id']}/swipe", json={"direction": "up"}
    )
    assert bad_swipe.status_code == 422
    unknown_character = await client.post("/api/v1/conversations", json={"character_id": 10**9})
    assert unknown_character.status_code == 404


async def test_other_users_conversations_are_invisible(
    client: httpx.AsyncClient, standin: Any
) -> None:
    await signup(client)
    standin.reply = "Private."
    conversation = await start_conversation(client)
    turn = await send(client, conversation["id"], "A secret.")
    await events_of(client, turn["generation_id"])
    mid = turn["user_message"]["id"]
    other = httpx.AsyncClient(transport=client._transport, base_url="http://test")
    async with other:
        await signup(other, email="eve@example.com")
        cid, gid = conversation["id"], turn["generation_id"]
        attempts = [
            other.get(f"/api/v1/conversations/{cid}"),
            other.patch(f"/api/v1/conversations/{cid}", json={"title": "mine"}),
            other.delete(f"/api/v1/conversations/{cid}"),
            other.post(f"/api/v1/conversations/{cid}/messages", json={"content": "hi"}),
            other.post(f"/api/v1/conversations/{cid}/impersonate"),
            other.post(f"/api/v1/conversations/{cid}/stop"),
            other.patch(f"/api/v1/messages/{mid}", json={"content": "x"}),
            other.delete(f"/api/v1/messages/{mid}"),
            other.post(f"/api/v1/messages/{turn['reply']['id']}/regenerate"),
            other.post(f"/api/v1/messages/{turn['reply']['id']}/continue"),
            other.post(f"/api/v1/messages/{mid}/swipe", json={"direction": "left"}),
            other.post(f"/api/v1/messages/{mid}/branch"),
            other.get(f"/api/v1/generations/{gid}/events"),
            other.post(f"/api/v1/generations/{gid}/stop"),
        ]
        for attempt in attempts:
            response = await attempt
            assert response.status_code == 404, (response.request.url, response.text)
            assert "A secret." not in response.text
        assert (await other.get("/api/v1/conversations")).json() == []
    state = (await client.get(f"/api/v1/conversations/{conversation['id']}")).json()
    assert state["messages"][-2]["content"] == "A secret."


async def test_greetings_have_macros_expanded(user_client: httpx.AsyncClient) -> None:
    await user_client.put("/api/v1/me/persona", json={"name": "Robin", "description": ""})
    conversation = await start_conversation(user_client, name="Captain Isolde Varga")
    greeting = conversation["messages"][0]["content"]
    assert "{{char}}" not in greeting
    assert "Captain Isolde Varga takes the wheel" in greeting


async def test_regenerate_on_a_user_message_replies_to_it(
    user_client: httpx.AsyncClient, standin: Any
) -> None:
    conversation = await start_conversation(user_client)
    standin.reply = "A reply."
    turn = await send(user_client, conversation["id"], "Question?")
    await events_of(user_client, turn["generation_id"])
    await user_client.delete(f"/api/v1/messages/{turn['reply']['id']}")
    standin.reply = "A fresh reply."
    again = await user_client.post(f"/api/v1/messages/{turn['user_message']['id']}/regenerate")
    assert again.status_code == 201
    assert again.json()["reply"]["parent_id"] == turn["user_message"]["id"]
    await events_of(user_client, again.json()["generation_id"])
    state = (await user_client.get(f"/api/v1/conversations/{conversation['id']}")).json()
    assert [m["content"] for m in state["messages"][1:]] == ["Question?", "A fresh reply."]


async def test_failed_write_cancels_the_started_model_request(
    user_client: httpx.AsyncClient, standin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from afterdark.chat import replies

    conversation = await start_conversation(user_client)
    standin.tokens, standin.token_delay = 200, 0.02

    async def broken_launch(*args: Any, **kwargs: Any) -> None:
        raise PoolTimeout("QueuePool limit reached")

    monkeypatch.setattr(replies, "_launch", broken_launch)
    response = await user_client.post(
        f"/api/v1/conversations/{conversation['id']}/messages", json={"content": "Hello?"}
    )
    assert response.status_code == 503
    for _ in range(100):  # the prefetched request is cancelled, so the stand-in sees it leave
        if standin.disconnects:
            break
        await asyncio.sleep(0.02)
    assert standin.disconnects == 1
    assert standin.completed == 0
    # Nothing of the failed turn was kept.
    state = (await user_client.get(f"/api/v1/conversations/{conversation['id']}")).json()
    assert len(state["messages"]) == 1
