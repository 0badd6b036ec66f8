"""Driving the app at the ASGI level, to play clients httpx cannot: ones that disconnect at a
chosen moment, or stop reading."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message


@dataclass
class Client:
    """One HTTP request: ``gone`` set means the client has disconnected; ``on_send`` may
    block (a client that does not read) or react to what the server sent."""

    gone: asyncio.Event = field(default_factory=asyncio.Event)
    sent: list[Message] = field(default_factory=list)
    on_send: Callable[[Message], Awaitable[None]] | None = None

    @property
    def status(self) -> int | None:
        starts = [m for m in self.sent if m["type"] == "http.response.start"]
        return int(starts[0]["status"]) if starts else None

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")

    def json(self) -> Any:
        return json.loads(self.body)


def post_scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """The ASGI scope of a ``POST path`` over HTTP/1.1 from 127.0.0.1 with ``headers``."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }


async def call(app: ASGIApp, path: str, payload: dict[str, Any], client: Client) -> None:
    """POST ``payload`` to ``path`` as ``client``; returns when the app's call returns."""
    data = json.dumps(payload).encode()
    scope = post_scope(
        path,
        [
            (b"host", b"test"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(data)).encode()),
        ],
    )
    body_sent = False

    async def receive() -> Message:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": data, "more_body": False}
        await client.gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if client.gone.is_set():
            return  # like uvicorn: writes to a gone client are dropped
        client.sent.append(message)
        if client.on_send is not None:
            await client.on_send(message)

    await app(scope, receive, send)
