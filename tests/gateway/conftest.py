"""Gateway fixtures: the fake upstream and gateway app from ``gateway_helpers``, and real
PostgreSQL / Redis servers started on 127.0.0.1 for the tests that need them."""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from inferstack.gateway import GatewaySettings, build_gateway_app
from support.servers import free_port
from support.services import postgres_cluster, wait_until

MASTER = "sk-master-test-" + secrets.token_hex(8)


# -- a fake OpenAI upstream -------------------------------------------------------------------


@dataclass
class FakeUpstream:
    """An OpenAI-compatible upstream per host; tests script failures per host.

    ``fail[host]`` is a list of outcomes consumed one per request: an int status code, or
    ``"connect"`` / ``"timeout"`` / ``"break"`` (stream breaks after the first chunk) /
    ``"linger"`` (stream keeps its connection open after ``[DONE]``) / ``"stall"`` (stream
    sends its first event, then waits forever).
    ``poison(body)`` returns a status for requests that fail on every host (like a request
    that crashes the model server's handler), or None.
    """

    fail: dict[str, list[Any]] = field(default_factory=dict)
    seen: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    words: list[str] = field(default_factory=lambda: ["Hello", " from", " upstream"])
    prompt_tokens: int = 7
    down: set[str] = field(default_factory=set)
    headers: list[httpx.Headers] = field(default_factory=list)
    poison: Callable[[dict[str, Any]], int | None] | None = None
    hanging: asyncio.Event = field(default_factory=asyncio.Event)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host in self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if request.method == "GET":
            return httpx.Response(200, json={"object": "list", "data": []})
        body = json.loads(request.content)
        self.seen.append((host, body))
        self.headers.append(request.headers)
        outcome = self.fail.get(host, []).pop(0) if self.fail.get(host) else None
        if outcome is None and self.poison is not None:
            outcome = self.poison(body)
        if outcome == "connect":
            raise httpx.ConnectError("connection refused", request=request)
        if outcome == "timeout":
            raise httpx.ReadTimeout("read timed out", request=request)
        if outcome == "hang":  # never answers (until the caller gives up)
            self.hanging.set()
            await asyncio.Event().wait()
        if isinstance(outcome, int):
            error = {"error": {"message": f"upstream {host} says {outcome}", "type": "x"}}
            return httpx.Response(outcome, json=error, headers={"retry-after": "0"})
        path = request.url.path
        if path.endswith("/embeddings"):
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            data = [
                {"object": "embedding", "index": i, "embedding": [0.1, 0.2]}
                for i in range(len(inputs))
            ]
            usage = {"prompt_tokens": 3 * len(inputs), "total_tokens": 3 * len(inputs)}
            return httpx.Response(
                200, json={"object": "list", "data": data, "model": body["model"], "usage": usage}
            )
        if body.get("stream"):
            return httpx.Response(
                200,
                headers={"content-type": "text/event-stream"},
                content=self._stream(body, path, host, outcome),
            )
        return httpx.Response(200, json=self._completion(body, path, host))

    def _usage(self) -> dict[str, int]:
        n = len(self.words)
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": n,
            "total_tokens": self.prompt_tokens + n,
        }

    def _completion(self, body: dict[str, Any], path: str, host: str) -> dict[str, Any]:
        text = "".join(self.words)
        if path.endswith("/chat/completions"):
            choice: dict[str, Any] = {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
            kind = "chat.completion"
        else:
            choice = {"index": 0, "text": text, "finish_reason": "stop"}
            kind = "text_completion"
        return {
            "id": f"cmpl-{host}",
            "object": kind,
            "created": 0,
            "model": body["model"],
            "choices": [choice],
            "usage": self._usage(),
        }

    async def _stream(
        self, body: dict[str, Any], path: str, host: str, outcome: Any
    ) -> AsyncIterator[bytes]:
        chat = path.endswith("/chat/completions")
        for i, word in enumerate(self.words):
            choice = (
                {"index": 0, "delta": {"content": word}} if chat else {"index": 0, "text": word}
            )
            chunk = {
                "id": f"s-{host}",
                "object": "chat.completion.chunk",
                "model": body["model"],
                "choices": [choice],
            }
            yield f"data: {json.dumps(chunk)}\n\n".encode()
            if outcome == "stall" and i == 0:  # sends one event, then nothing more
                self.hanging.set()
                await asyncio.Event().wait()
            if outcome == "break" and i == 0:
                raise httpx.ReadError("connection reset by peer")
            await asyncio.sleep(0)
        if (body.get("stream_options") or {}).get("include_usage"):
            chunk = {
                "id": f"s-{host}",
                "object": "chat.completion.chunk",
                "model": body["model"],
                "choices": [],
                "usage": self._usage(),
            }
            yield f"data: {json.dumps(chunk)}\n\n".encode()
        yield b"data: [DONE]\n\n"
        if outcome == "linger":
            await asyncio.Event().wait()


def gateway_settings(tmp_path: Path, **overrides: Any) -> GatewaySettings:
    """Two groups: ``chat`` on hosts a and b, ``backup`` on host c; no waiting anywhere."""
    values: dict[str, Any] = {
        "state_dir": tmp_path,
        "model_groups": {
            "chat": {
                "deployments": [
                    {
                        "api_base": "http://a/v1",
                        "model": "up-chat",
                        "name": "a",
                        "input_cost_per_million": 1.0,
                        "output_cost_per_million": 2.0,
                    },
                    {
                        "api_base": "http://b/v1",
                        "model": "up-chat",
                        "name": "b",
                        "input_cost_per_million": 1.0,
                        "output_cost_per_million": 2.0,
                    },
                ]
            },
            "backup": {"deployments": [{"api_base": "http://c/v1", "name": "c"}]},
            "embed": {"deployments": [{"api_base": "http://e/v1", "name": "e"}]},
        },
        "router": {"num_retries": 2, "retry_backoff_s": 0, "cooldown_s": 60},
        "health_check": {"enabled": False},
        "key_cache_ttl_s": 0,
    }
    for name, value in overrides.items():
        if isinstance(value, dict) and isinstance(values.get(name), dict):
            values[name] = {**values[name], **value}
        else:
            values[name] = value
    return GatewaySettings(**values)


@dataclass
class GatewayHarness:
    app: Any
    client: httpx.AsyncClient
    upstream: FakeUpstream
    master: str = MASTER

    @property
    def gw(self) -> Any:
        return self.app.state.gateway

    def auth(self, key: str = MASTER) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    async def new_key(self, **spec: Any) -> str:
        response = await self.client.post("/key/generate", json=spec, headers=self.auth())
        assert response.status_code == 200, response.text
        return str(response.json()["key"])

    async def chat(self, key: str, **body: Any) -> httpx.Response:
        payload = {"model": "chat", "messages": [{"role": "user", "content": "hi"}], **body}
        return await self.client.post("/v1/chat/completions", json=payload, headers=self.auth(key))


@asynccontextmanager
async def running_gateway(
    settings: GatewaySettings, upstream: FakeUpstream, **kwargs: Any
) -> AsyncIterator[GatewayHarness]:
    app = build_gateway_app(settings, master_key=MASTER, transport=upstream.transport(), **kwargs)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield GatewayHarness(app, client, upstream)


@pytest.fixture
def upstream() -> FakeUpstream:
    return FakeUpstream()


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., GatewaySettings]:
    """Settings of the test gateway with some fields overridden."""
    return lambda **overrides: gateway_settings(tmp_path, **overrides)


@pytest.fixture
def make_gateway(
    tmp_path: Path, upstream: FakeUpstream
) -> Callable[..., AbstractAsyncContextManager[GatewayHarness]]:
    """``async with make_gateway(router={...}) as gw``: a gateway with changed settings."""

    def make(
        rng: random.Random | None = None, **overrides: Any
    ) -> AbstractAsyncContextManager[GatewayHarness]:
        return running_gateway(gateway_settings(tmp_path, **overrides), upstream, rng=rng)

    return make


@pytest.fixture
async def gateway(tmp_path: Path, upstream: FakeUpstream) -> AsyncIterator[GatewayHarness]:
    async with running_gateway(gateway_settings(tmp_path), upstream) as harness:
        yield harness


# -- real servers -----------------------------------------------------------------------------


@dataclass
class PostgresServer:
    url: str  # SQLAlchemy async URL (asyncpg)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 with a random password (not trust auth)."""
    with postgres_cluster() as url:
        yield PostgresServer(url)


@dataclass
class RedisServer:
    url: str
    process: subprocess.Popen[bytes]


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real ``redis-server`` on 127.0.0.1 and a free port, no persistence."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not installed (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def answers() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    try:
        wait_until(answers, 20, "redis-server")
        yield RedisServer(f"redis://127.0.0.1:{port}/0", proc)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
