"""A small fake streaming OpenAI server on 127.0.0.1 for the bench's own tests.

It streams ``max_tokens`` one-word chunks, ``delay_s`` apart, then the usage chunk when asked
for it. Behaviour switches live on ``FakeServer.config`` so a test can make it omit usage,
fail with a status, break its stream, or send an error event.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass
class FakeConfig:
    delay_s: float = 0.001
    send_usage: bool = True
    fail_status: int | None = None
    fail_every: int = 0
    """Fail every n-th request with ``fail_status`` (0: every request when fail_status set)."""
    error_event: bool = False
    skip_done: bool = False
    tokens: int | None = None
    """Answer with this many tokens whatever max_tokens says."""
    raw_events: list[bytes] = field(default_factory=list)
    """Sent verbatim before the token chunks."""
    seen: list[dict[str, Any]] = field(default_factory=list)
    peers: list[tuple[str, int]] = field(default_factory=list)
    """The client address (host, port) of each request: one port means one connection."""


def _chunk(kind: str, text: str) -> dict[str, Any]:
    if kind == "chat":
        return {
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"content": text}}],
        }
    return {"object": "text_completion", "choices": [{"index": 0, "text": text}]}


def build_fake_app(cfg: FakeConfig) -> Starlette:
    async def handle(request: Request, kind: str) -> Response:
        body = await request.json()
        cfg.seen.append(body)
        if request.client is not None:
            cfg.peers.append((request.client.host, request.client.port))
        n = len(cfg.seen)
        if cfg.fail_status and (cfg.fail_every == 0 or n % cfg.fail_every == 0):
            return JSONResponse({"error": {"message": "fake failure"}}, status_code=cfg.fail_status)
        tokens = int(body.get("max_tokens", 8)) if cfg.tokens is None else cfg.tokens
        usage = (body.get("stream_options") or {}).get("include_usage") and cfg.send_usage

        async def events() -> AsyncIterator[bytes]:
            for raw in cfg.raw_events:
                yield raw
            for i in range(tokens):
                await asyncio.sleep(cfg.delay_s)
                if cfg.error_event and i == 1:
                    yield b'data: {"error": {"message": "boom", "type": "server_error"}}\n\n'
                    break
                yield f"data: {json.dumps(_chunk(kind, f' w{i}'))}\n\n".encode()
            if usage:
                u = {"prompt_tokens": 7, "completion_tokens": tokens, "total_tokens": 7 + tokens}
                yield f"data: {json.dumps({'choices': [], 'usage': u})}\n\n".encode()
            if not cfg.skip_done:
                yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async def chat(request: Request) -> Response:
        return await handle(request, "chat")

    async def completions(request: Request) -> Response:
        return await handle(request, "completions")

    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "fake-model", "object": "model"}]})

    return Starlette(
        routes=[
            Route("/v1/models", models),
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/completions", completions, methods=["POST"]),
        ]
    )


@dataclass
class FakeServer:
    url: str
    config: FakeConfig

    @property
    def base_url(self) -> str:
        return self.url + "/v1"


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    cfg = FakeConfig()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(build_fake_app(cfg), log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        threading.Event().wait(0.01)
    assert server.started, "fake server did not start"
    try:
        yield FakeServer(url=f"http://127.0.0.1:{port}", config=cfg)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
