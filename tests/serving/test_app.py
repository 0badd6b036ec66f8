"""The model server's HTTP contract, on an in-memory engine."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from inferstack.protocol import iter_sse_data

FakeEngine = Any  # the fixture's in-memory engine (tests/serving/conftest.py)

CHAT = {"model": "fake", "messages": [{"role": "user", "content": "one two three"}]}


async def test_chat_completion(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/chat/completions", json=CHAT)
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": "one two three ",
        "refusal": None,
    }
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["prompt_tokens"] == 3
    assert body["usage"]["total_tokens"] == 6


async def test_chat_stream_with_usage_chunk(client: httpx.AsyncClient) -> None:
    req = {**CHAT, "stream": True, "stream_options": {"include_usage": True}, "max_tokens": 2}
    r = await client.post("/v1/chat/completions", json=req)
    assert r.headers["content-type"].startswith("text/event-stream")
    events = list(iter_sse_data(r.text.splitlines()))
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "one two "
    finish = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert finish[0]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 2


async def test_completions_and_stream(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/completions", json={"model": "fake", "prompt": "a b", "echo": True})
    assert r.json()["choices"][0]["text"] == "a ba b "
    r = await client.post(
        "/v1/completions", json={"model": "fake", "prompt": "a b", "stream": True}
    )
    events = list(iter_sse_data(r.text.splitlines()))
    assert events[-1] == "[DONE]"
    assert "".join(json.loads(e)["choices"][0]["text"] for e in events[:-1]) == "a b "


async def test_embeddings_float_and_base64(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/embeddings", json={"model": "fake", "input": ["x", "y"]})
    assert [d["embedding"] for d in r.json()["data"]] == [[1.0, 0.0, 0.0]] * 2
    r = await client.post(
        "/v1/embeddings", json={"model": "fake", "input": "x", "encoding_format": "base64"}
    )
    assert isinstance(r.json()["data"][0]["embedding"], str)


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        (b"{not json", 400, None),
        (b"[1, 2]", 400, None),
        (json.dumps({**CHAT, "temperature": "hot"}).encode(), 400, "temperature"),
        (json.dumps({**CHAT, "messages": []}).encode(), 400, "messages"),
        (json.dumps({**CHAT, "model": "nope"}).encode(), 404, "model"),
        (json.dumps({**CHAT, "max_tokens": 0}).encode(), 400, "max_tokens"),
        (
            json.dumps({**CHAT, "messages": [{"role": "user", "content": "w " * 100}]}).encode(),
            400,
            "messages",
        ),
        (
            json.dumps({**CHAT, "messages": [{"role": "user", "content": "x" * 5000}]}).encode(),
            413,
            None,
        ),
    ],
)
async def test_bad_input_gets_openai_error(
    client: httpx.AsyncClient, body: bytes, status: int, param: str | None
) -> None:
    r = await client.post(
        "/v1/chat/completions", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["param"] == param
    assert error["message"]
    # ...and the server keeps serving.
    assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200


async def test_full_queue_answers_429_before_work(
    client: httpx.AsyncClient, engine: FakeEngine
) -> None:
    engine.gate = asyncio.Event()
    # concurrency 2 + max_waiting 1 = 3 requests in flight
    blocked = [
        asyncio.create_task(client.post("/v1/chat/completions", json=CHAT)) for _ in range(3)
    ]
    for _ in range(100):
        await asyncio.sleep(0)
    r = await client.post("/v1/chat/completions", json=CHAT)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "1"
    assert r.json()["error"]["type"] == "rate_limit_error"
    engine.gate.set()
    assert [t.status_code for t in await asyncio.gather(*blocked)] == [200, 200, 200]


async def test_error_after_first_byte_is_an_sse_error_event(
    client: httpx.AsyncClient, engine: FakeEngine
) -> None:
    engine.fail_after = 1
    r = await client.post("/v1/chat/completions", json={**CHAT, "stream": True})
    assert r.status_code == 200
    events = list(iter_sse_data(r.text.splitlines()))
    assert events[-1] == "[DONE]"
    assert json.loads(events[-2])["error"]["message"] == "boom"


async def test_unknown_fields_are_ignored(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/chat/completions", json={**CHAT, "store": True, "metadata": {}})
    assert r.status_code == 200


async def test_models_health_ready_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/models")).json()["data"][0]["id"] == "fake"
    assert (await client.get("/v1/models/fake")).status_code == 200
    assert (await client.get("/v1/models/other")).status_code == 404
    assert (await client.get("/health")).json() == {"status": "ok"}
    assert (await client.get("/ready")).status_code == 200
    await client.post("/v1/chat/completions", json=CHAT)
    text = (await client.get("/metrics")).text
    assert (
        'inferstack_requests_total{endpoint="/v1/chat/completions",model="fake",status="200"} 1.0'
        in text
    )
    assert 'inferstack_kv_cache_usage_ratio{model="fake"} 0.25' in text
    assert 'inferstack_prompt_tokens_total{model="fake"} 3.0' in text
    assert "inferstack_time_to_first_token_seconds_count" in text


async def test_unknown_route_is_an_openai_404(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/nothing")
    assert r.status_code == 404
    assert r.json()["error"]["type"] == "not_found_error"
