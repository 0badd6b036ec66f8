"""No admission slot is ever lost: clients that leave while queued, before the first token or
mid-stream, clients that never read, requests past their deadline (in memory, ASGI level)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.types import Message

from inferstack.protocol import iter_sse_data
from inferstack.serving.app import build_app
from inferstack.serving.settings import ServerSettings
from inferstack.serving.sse import KEEPALIVE
from support.asgi import Client, call

FakeEngine = Any  # tests/serving/conftest.py

CHAT = {"model": "fake", "messages": [{"role": "user", "content": "one two three"}]}
LIMIT = 5.0
"""Seconds a call may take before the test calls it hung (the server never let go)."""


def make_app(engine: FakeEngine, **settings: Any) -> FastAPI:
    return build_app(ServerSettings(**{"max_waiting": 4, **settings}), engine)


def in_flight(app: FastAPI) -> int:
    return int(app.state.inferstack.admission.in_flight)


async def settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


@pytest.mark.parametrize("stream", [True, False])
async def test_client_leaving_while_queued_frees_its_slot(engine: FakeEngine, stream: bool) -> None:
    engine.gate = asyncio.Event()  # the first token never comes: the request stays queued
    app = make_app(engine)
    client = Client()
    task = asyncio.ensure_future(
        call(app, "/v1/chat/completions", {**CHAT, "stream": stream}, client)
    )
    await settle()
    assert in_flight(app) == 1
    client.gone.set()
    await asyncio.wait_for(task, LIMIT)
    assert in_flight(app) == 0
    assert len(engine.cancelled) == 1  # the engine dropped the request


async def test_client_gone_when_the_stream_starts_frees_its_slot(engine: FakeEngine) -> None:
    """Starlette never starts a streaming body for a client that already left: the slot must
    not depend on the body running."""
    app = make_app(engine)
    client = Client()
    client.gone.set()
    await asyncio.wait_for(
        call(app, "/v1/chat/completions", {**CHAT, "stream": True}, client), LIMIT
    )
    await settle()
    assert in_flight(app) == 0


async def test_client_leaving_mid_stream_frees_its_slot(engine: FakeEngine) -> None:
    engine.gate = asyncio.Event()
    engine.gate.set()
    app = make_app(engine)
    client = Client()

    async def leave_after_first_chunk(message: Message) -> None:
        if b'"content":"one' in message.get("body", b""):
            engine.gate.clear()  # the next word waits...
            client.gone.set()  # ...and the client leaves meanwhile

    client.on_send = leave_after_first_chunk
    await asyncio.wait_for(
        call(app, "/v1/chat/completions", {**CHAT, "stream": True}, client), LIMIT
    )
    assert in_flight(app) == 0
    assert len(engine.cancelled) == 1


async def test_a_client_that_never_reads_is_dropped(engine: FakeEngine) -> None:
    app = make_app(engine, write_timeout_seconds=0.2)
    client = Client()
    stuck = asyncio.Event()

    async def never_read(message: Message) -> None:
        if message["type"] == "http.response.body":
            await stuck.wait()  # the socket buffer is full and nobody reads it

    client.on_send = never_read
    await asyncio.wait_for(
        call(app, "/v1/completions", {"model": "fake", "prompt": "a b c", "stream": True}, client),
        LIMIT,
    )
    assert in_flight(app) == 0


@pytest.mark.parametrize("stream", [True, False])
async def test_deadline_ends_a_request_with_408(engine: FakeEngine, stream: bool) -> None:
    engine.gate = asyncio.Event()  # never opens
    app = make_app(engine, request_timeout_seconds=0.2, keepalive_seconds=1.0)
    client = Client()
    await asyncio.wait_for(
        call(app, "/v1/chat/completions", {**CHAT, "stream": stream}, client), LIMIT
    )
    assert client.status == 408
    assert client.json()["error"]["type"] == "timeout_error"
    assert in_flight(app) == 0


async def test_deadline_mid_stream_is_an_sse_error_then_done(engine: FakeEngine) -> None:
    engine.gate = asyncio.Event()
    engine.gate.set()
    app = make_app(engine, request_timeout_seconds=0.3)
    client = Client()

    async def stall_after_first(message: Message) -> None:
        if b'"content":"one' in message.get("body", b""):
            engine.gate.clear()

    client.on_send = stall_after_first
    await asyncio.wait_for(
        call(app, "/v1/chat/completions", {**CHAT, "stream": True}, client), LIMIT
    )
    events = list(iter_sse_data(client.body.decode().splitlines()))
    assert events[-1] == "[DONE]"
    assert '"timeout_error"' in events[-2]
    assert in_flight(app) == 0


async def test_queued_stream_gets_keepalive_comments(engine: FakeEngine) -> None:
    engine.gate = asyncio.Event()
    app = make_app(engine, keepalive_seconds=0.05)
    client = Client()

    async def open_after_keepalive(message: Message) -> None:
        if message.get("body") == KEEPALIVE.encode():
            engine.gate.set()  # the request gets its slot after a keep-alive went out

    client.on_send = open_after_keepalive
    await asyncio.wait_for(
        call(app, "/v1/chat/completions", {**CHAT, "stream": True}, client), LIMIT
    )
    assert client.status == 200
    text = client.body.decode()
    assert KEEPALIVE in text
    assert text.index(KEEPALIVE) < text.index('"content":"one')  # sent while queued
    events = list(iter_sse_data(text.splitlines()))
    assert events[-1] == "[DONE]"
    assert all(f'"content":"{w} "' in text for w in ("one", "two", "three"))
    assert in_flight(app) == 0


async def test_many_clients_vanishing_at_random_leave_no_slot(engine: FakeEngine) -> None:
    """30 clients, each leaving at its own moment (queued, before the first token,
    mid-stream, after the end); afterwards nothing is in flight and a request is served."""
    engine.gate = asyncio.Event()
    app = make_app(engine, max_running=2, max_waiting=40)
    clients = [Client() for _ in range(30)]
    tasks = [
        asyncio.ensure_future(
            call(app, "/v1/chat/completions", {**CHAT, "stream": i % 2 == 0}, client)
        )
        for i, client in enumerate(clients)
    ]
    for i, client in enumerate(clients):
        for _ in range(i % 7):
            await asyncio.sleep(0)
        if i % 3 == 0:
            engine.gate.set()
        elif i % 3 == 1:
            engine.gate.clear()
        client.gone.set()
    engine.gate.set()
    await asyncio.wait_for(asyncio.gather(*tasks), LIMIT)
    assert in_flight(app) == 0
    fresh = Client()
    await asyncio.wait_for(call(app, "/v1/chat/completions", CHAT, fresh), LIMIT)
    assert fresh.status == 200
