"""A scripted OpenAI chat-completions server for unit tests, strict like the real one.

It answers each request with the next scripted reply (a text answer or tool calls), records
every request, and rejects what the real server rejects: a ``tool`` message whose
``tool_call_id`` no earlier assistant message made, tools with ``tool_choice`` missing, a
``required`` choice answered without a call.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import openai


@dataclass
class Reply:
    content: str | None = None
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    raw_arguments: str | None = None  # send these exact arguments (invalid JSON tests)


def text(content: str) -> Reply:
    return Reply(content=content)


def call(tool_name: str, /, **arguments: Any) -> Reply:
    return Reply(calls=[(tool_name, arguments)])


def calls(*pairs: tuple[str, dict[str, Any]]) -> Reply:
    return Reply(calls=list(pairs))


class FakeModel:
    def __init__(self, *replies: Reply, repeat_last: bool = False) -> None:
        self.replies = list(replies)
        self.repeat_last = repeat_last
        self.requests: list[dict[str, Any]] = []
        self.traceparents: list[str | None] = []

    def client(self) -> openai.AsyncOpenAI:
        transport = httpx.MockTransport(self.handle)
        return openai.AsyncOpenAI(
            base_url="http://model.test/v1",
            api_key="x",
            max_retries=0,
            http_client=httpx.AsyncClient(transport=transport),
        )

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != "/v1/chat/completions":
            return _error(404, f"no route {request.url.path}", None)
        body = json.loads(request.content)
        self.requests.append(body)
        self.traceparents.append(request.headers.get("traceparent"))
        known: set[str] = set()
        for i, m in enumerate(body["messages"]):
            if m["role"] == "assistant":
                known.update(c["id"] for c in m.get("tool_calls") or [])
            if m["role"] == "tool" and m.get("tool_call_id") not in known:
                return _error(400, "unknown tool_call_id", f"messages.{i}.tool_call_id")
        if not self.replies:
            return _error(500, "script exhausted", None)
        reply = (
            self.replies[0] if self.repeat_last and len(self.replies) == 1 else self.replies.pop(0)
        )
        if body.get("tool_choice") == "required" and not reply.calls:
            return _error(500, "script answered a required choice without a call", None)
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        finish = "stop"
        if reply.calls:
            finish = "tool_calls"
            message["tool_calls"] = [
                {
                    "id": "call_" + uuid.uuid4().hex[:12],
                    "type": "function",
                    "function": {
                        "name": name,
                        "arguments": reply.raw_arguments or json.dumps(arguments),
                    },
                }
                for name, arguments in reply.calls
            ]
        prompt = sum(len(str(m.get("content") or "")) for m in body["messages"]) // 4 + 1
        return httpx.Response(
            200,
            json={
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": 10,
                    "total_tokens": prompt + 10,
                },
            },
        )


def _error(status: int, message: str, param: str | None) -> httpx.Response:
    return httpx.Response(
        status,
        json={
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": param,
                "code": None,
            }
        },
    )
