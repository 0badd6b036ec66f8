"""Benchmark peer: a minimal, fast OpenAI-compatible responder (``echo``), for comparison only.

It generates nothing: every completion is the same few tokens (``--tokens``, default 16;
fewer when the request's ``max_tokens`` is smaller), answered at once with no artificial
delay, streamed as one SSE chunk per token plus a usage chunk when
``stream_options.include_usage`` is set. It stands in for a model server when what is
measured is a gateway or proxy in front of it: the upstream costs next to nothing, so the
gateway is the bottleneck. This is *not* part of inferstack's product.

It is a raw ASGI app (no framework, no request validation) run by uvicorn with access logs
off; uvicorn picks uvloop and httptools when they are installed.

Routes: ``GET /health``, ``GET /v1/models``, ``POST /v1/chat/completions``,
``POST /v1/completions``.

Run: ``python -m inferstack.bench.peers.echo_app --port PORT [--tokens 16] [--model-id echo]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["DEFAULT_MODEL_ID", "DEFAULT_TOKENS", "TOKEN_TEXT", "EchoApp", "main"]

DEFAULT_TOKENS = 16
DEFAULT_MODEL_ID = "echo"
TOKEN_TEXT = " echo"
"""The text of every generated token."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON = [(b"content-type", b"application/json")]
_SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
_DONE = b"data: [DONE]\n\n"


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _count_words(value: Any) -> int:
    """A rough prompt token count (whitespace-separated words) of a prompt or messages."""
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(_count_words(v) for v in value)
    if isinstance(value, dict):
        return _count_words(value.get("content") or value.get("text") or "")
    return 0


class EchoApp:
    """The ASGI app; ``tokens`` completion tokens per answer, model id ``model_id``."""

    def __init__(self, tokens: int = DEFAULT_TOKENS, model_id: str = DEFAULT_MODEL_ID) -> None:
        if tokens < 1:
            raise ValueError("tokens must be at least 1")
        self.tokens, self.model_id = tokens, model_id
        self._ids = itertools.count()
        self._models = _dumps(
            {
                "object": "list",
                "data": [{"id": model_id, "object": "model", "created": 0, "owned_by": "bench"}],
            }
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path in ("/v1/chat/completions", "/v1/completions"):
            if method != "POST":
                await _respond(send, 405, _error("method not allowed"))
                return
            await self._complete(path == "/v1/chat/completions", receive, send)
        elif path in ("/v1/models", "/models") and method == "GET":
            await _respond(send, 200, self._models)
        elif path in ("/health", "/v1/health") and method == "GET":
            await _respond(send, 200, b'{"status":"ok"}')
        else:
            await _respond(send, 404, _error(f"no route {method} {path}"))

    async def _complete(self, chat: bool, receive: Receive, send: Send) -> None:
        raw = b""
        more = True
        while more:
            message = await receive()
            raw += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("not a JSON object")
            max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
            tokens = min(self.tokens, int(max_tokens)) if max_tokens else self.tokens
        except (ValueError, TypeError) as exc:
            await _respond(send, 400, _error(f"bad request body: {exc}"))
            return
        finish = "length" if tokens < self.tokens else "stop"
        prompt_tokens = _count_words(body.get("messages") if chat else body.get("prompt"))
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": tokens,
            "total_tokens": prompt_tokens + tokens,
        }
        rid = f"echo-{next(self._ids)}"
        model = str(body.get("model") or self.model_id)
        head = {"id": rid, "created": int(time.time()), "model": model}
        if not body.get("stream"):
            text = TOKEN_TEXT * tokens
            if chat:
                message = {"role": "assistant", "content": text}
                choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": finish}
                obj = "chat.completion"
            else:
                choice = {"index": 0, "text": text, "finish_reason": finish, "logprobs": None}
                obj = "text_completion"
            await _respond(
                send, 200, _dumps({**head, "object": obj, "choices": [choice], "usage": usage})
            )
            return
        obj = "chat.completion.chunk" if chat else "text_completion"

        def event(choice: dict[str, Any] | None, **extra: Any) -> bytes:
            data = {**head, "object": obj, "choices": [choice] if choice else [], **extra}
            return b"data: " + _dumps(data) + b"\n\n"

        if chat:
            first = event({"index": 0, "delta": {"role": "assistant", "content": TOKEN_TEXT},
                           "finish_reason": None})  # fmt: skip
            token = event({"index": 0, "delta": {"content": TOKEN_TEXT}, "finish_reason": None})
            last = event({"index": 0, "delta": {}, "finish_reason": finish})
        else:
            first = token = event({"index": 0, "text": TOKEN_TEXT, "finish_reason": None})
            last = event({"index": 0, "text": "", "finish_reason": finish})
        await send({"type": "http.response.start", "status": 200, "headers": _SSE})
        await send({"type": "http.response.body", "body": first, "more_body": True})
        for _ in range(tokens - 1):
            await send({"type": "http.response.body", "body": token, "more_body": True})
        tail = last
        if (body.get("stream_options") or {}).get("include_usage"):
            tail += event(None, usage=usage)
        await send({"type": "http.response.body", "body": tail + _DONE, "more_body": False})


def _error(message: str) -> bytes:
    return _dumps({"error": {"message": message, "type": "invalid_request_error"}})


async def _respond(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": _JSON})
    await send({"type": "http.response.body", "body": body})


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--tokens", type=int, default=DEFAULT_TOKENS, help="tokens per answer (default 16)"
    )
    parser.add_argument("--model-id", default=DEFAULT_MODEL_ID, help="the one model listed")
    args = parser.parse_args(argv)
    app = EchoApp(args.tokens, args.model_id)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
        date_header=False,
    )


if __name__ == "__main__":
    main()
