"""The gateway keeps its upstream connections: a finished stream hands its connection back to
the pool, so back-to-back requests to one deployment share one TCP connection."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from inferstack.gateway import GatewaySettings, build_gateway_app
from support.servers import free_port

MASTER = "sk-master-connections-test"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class ChunkedUpstream:
    """A bare HTTP/1.1 keep-alive server on 127.0.0.1 that streams chat completions with chunked
    transfer encoding, its final zero-length chunk written ``end_delay_s`` after ``[DONE]`` (a
    real server's end of body may arrive in a later segment, or with ``[DONE]``). Counts the
    connections it accepts and keeps each request's head."""

    def __init__(self, end_delay_s: float = 0.01) -> None:
        self.port = free_port()
        self.end_delay_s = end_delay_s
        self.connections = 0
        self.requests = 0
        self.heads: list[bytes] = []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> ChunkedUpstream:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.heads.append(head)
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.lower().split(b"\r\n")
                    if line.startswith(b"content-length:")
                )
                body = json.loads(await reader.readexactly(length))
                self.requests += 1
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                    b"transfer-encoding: chunked\r\n\r\n"
                )
                for event in self._events(body["model"]):
                    writer.write(b"%x\r\n%s\r\n" % (len(event), event))
                    if self.end_delay_s:
                        await writer.drain()
                if self.end_delay_s:
                    await asyncio.sleep(self.end_delay_s)
                writer.write(b"0\r\n\r\n")  # with no delay: in one write with the events
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @staticmethod
    def _events(model: str) -> list[bytes]:
        def chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> bytes:
            data = {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            if usage is not None:
                data["choices"], data["usage"] = [], usage
            return b"data: " + json.dumps(data).encode() + b"\n\n"

        usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
        return [
            chunk({"role": "assistant", "content": "Hel"}),
            chunk({"content": "lo"}, "stop"),
            chunk({}, usage=usage),
            b"data: [DONE]\n\n",
        ]


@pytest.fixture(params=[0.01, 0.0], ids=["end-later", "end-with-done"])
async def upstream(request: pytest.FixtureRequest) -> AsyncIterator[ChunkedUpstream]:
    async with ChunkedUpstream(end_delay_s=request.param) as server:
        yield server


def _gateway(tmp_path: Path, upstream: ChunkedUpstream) -> FastAPI:
    """A gateway with one model group on ``upstream`` and no health probes."""
    settings = GatewaySettings(
        state_dir=tmp_path,
        model_groups={
            "chat": {"deployments": [{"api_base": f"http://127.0.0.1:{upstream.port}/v1"}]}
        },
        health_check={"enabled": False},
    )
    return build_gateway_app(settings, master_key=MASTER)


async def test_back_to_back_streams_share_one_upstream_connection(
    tmp_path: Path, upstream: ChunkedUpstream
) -> None:
    app = _gateway(tmp_path, upstream)
    body = {"model": "chat", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            for _ in range(5):
                response = await client.post(
                    "/v1/chat/completions",
                    json=body,
                    headers={"Authorization": f"Bearer {MASTER}"},
                )
                assert response.status_code == 200
                assert response.text.endswith("data: [DONE]\n\n")
                assert "Hel" in response.text and '"usage"' not in response.text
    assert upstream.requests == 5
    assert upstream.connections == 1


async def test_an_upstream_request_carries_host_length_and_the_request_id(
    tmp_path: Path, upstream: ChunkedUpstream
) -> None:
    # The gateway builds the upstream request itself (no httpx client layers on plain HTTP):
    # it must still be a complete HTTP/1.1 request.
    app = _gateway(tmp_path, upstream)
    body = {"model": "chat", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            response = await client.post(
                "/v1/chat/completions",
                json=body,
                headers={
                    "Authorization": f"Bearer {MASTER}",
                    "x-request-id": "req-42",
                    "traceparent": TRACEPARENT,
                },
            )
    assert response.status_code == 200 and response.headers["x-request-id"] == "req-42"
    (head,) = upstream.heads
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /v1/chat/completions HTTP/1.1"
    fields = {
        name.lower(): value for name, value in (line.split(": ", 1) for line in lines[1:] if line)
    }
    assert fields["host"] == f"127.0.0.1:{upstream.port}"
    assert fields["x-request-id"] == "req-42"
    assert fields["content-type"] == "application/json"
    assert int(fields["content-length"]) > 0
    assert "cookie" not in fields
    # tracing is off here: the gateway records no span, but the caller's trace goes on
    assert fields["traceparent"].split("-")[1] == TRACEPARENT.split("-")[1]
