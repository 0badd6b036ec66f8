"""The proxy routes' fast path (``inferstack.gateway.fastpath``): served before FastAPI's stack,
with everything the full stack gave them — OpenAI JSON errors naming ``param``, the request id,
the SERVER span — and a client that hangs up mid-stream is still charged for what it was sent.

Each test breaks FastAPI's own middleware stack first, so a request that reached it fails."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from inferstack.gateway.fastpath import FAST_ROUTES
from inferstack.telemetry import Telemetry, TelemetrySettings
from support.asgi import post_scope

from .conftest import GatewayHarness, gateway_settings, running_gateway

CHAT = "/v1/chat/completions"


def _without_fastapi(harness: GatewayHarness) -> None:
    """Make FastAPI's stack fail the proxy routes, so only the fast path can answer them."""
    app = harness.app
    stack = app.middleware_stack or app.build_middleware_stack()

    async def refuse(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] in FAST_ROUTES:
            raise AssertionError(f"{scope['method']} {scope['path']} reached FastAPI's stack")
        await stack(scope, receive, send)

    app.middleware_stack = refuse


async def test_every_error_on_the_fast_path_is_an_openai_json_error(gateway, monkeypatch) -> None:
    _without_fastapi(gateway)
    c, auth = gateway.client, gateway.auth()
    cases: list[tuple[dict[str, Any], int, str, str | None]] = []

    async def check(expect: int, kind: str, param: str | None, **request: Any) -> dict[str, Any]:
        response = await c.post(CHAT, headers={"x-request-id": "req-42", **request.pop("h", auth)},
                                **request)  # fmt: skip
        assert response.status_code == expect, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.headers["x-request-id"] == "req-42"
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert (error["type"], error["param"]) == (kind, param)
        cases.append((error, expect, kind, param))
        return error

    await check(401, "authentication_error", None, h={}, json={"model": "chat"})
    await check(400, "invalid_request_error", None, content=b"{")
    await check(400, "invalid_request_error", "model", json={"messages": []})
    missing = await check(404, "not_found_error", "model", json={"model": "nope"})
    assert missing["code"] == "model_not_found"
    twice = b'{"model": "chat", "model": "backup", "messages": []}'
    await check(400, "invalid_request_error", "model", content=twice)
    key = await gateway.new_key(models=["backup"])
    denied = await check(403, "permission_error", "model", h=gateway.auth(key),
                         json={"model": "chat", "messages": []})  # fmt: skip
    assert denied["code"] == "model_not_allowed"

    async def broken(call: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(gateway.gw.openai._proxy, "handle", broken)
    bug = await check(500, "server_error", None, json={"model": "chat", "messages": []})
    assert bug["message"] == "internal error: RuntimeError"
    assert len(cases) == 7 and gateway.upstream.seen == []


async def test_an_upstream_failure_on_the_fast_path_keeps_its_status_and_headers(
    make_gateway, upstream
) -> None:
    upstream.down = {"a", "b"}
    async with make_gateway(
        model_groups={"chat": {"deployments": [{"api_base": "http://a/v1"}]}}
    ) as gw:
        _without_fastapi(gw)
        response = await gw.chat(gw.master)
    assert (
        response.status_code == 502 and response.json()["error"]["code"] == "upstream_unreachable"
    )
    assert response.headers["x-request-id"]


async def test_the_fast_path_serves_streams_embeddings_and_completions(gateway) -> None:
    _without_fastapi(gateway)
    streamed = await gateway.chat(gateway.master, stream=True)
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert streamed.headers["x-inferstack-deployment"] in ("a", "b")
    assert streamed.text.endswith("data: [DONE]\n\n") and "Hello" in streamed.text
    embedded = await gateway.client.post(
        "/v1/embeddings", json={"model": "chat", "input": ["x", "y"]}, headers=gateway.auth()
    )
    assert embedded.status_code == 200 and len(embedded.json()["data"]) == 2
    completed = await gateway.client.post(
        "/v1/completions", json={"model": "chat", "prompt": "Q:"}, headers=gateway.auth()
    )
    assert completed.status_code == 200 and completed.json()["choices"][0]["text"]
    await gateway.gw.recorder.flush()
    logs = await gateway.gw.reports.logs()
    assert sorted(log["endpoint"] for log in logs) == [
        "/chat/completions",
        "/completions",
        "/embeddings",
    ]


async def test_other_methods_and_routes_still_go_through_fastapi(gateway) -> None:
    wrong = await gateway.client.get(CHAT, headers=gateway.auth())
    assert wrong.status_code == 405 and wrong.json()["error"]["type"] == "invalid_request_error"
    models = await gateway.client.get("/v1/models", headers=gateway.auth())
    assert models.status_code == 200 and models.headers["x-request-id"]


async def test_the_fast_path_traces_its_requests(
    tmp_path: Path, upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    exporter = InMemorySpanExporter()
    telemetry = Telemetry.from_settings(
        TelemetrySettings(), service_name="inferstack-gateway", exporter=exporter
    )
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    async with running_gateway(gateway_settings(tmp_path), upstream, telemetry=telemetry) as gw:
        _without_fastapi(gw)
        response = await gw.client.post(
            CHAT,
            json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
            headers={**gw.auth(), "traceparent": parent},
        )
        assert response.status_code == 200
        await gw.gw.recorder.flush()
    assert telemetry.flush()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    server = spans["POST /v1/chat/completions"]
    assert server.kind == SpanKind.SERVER
    assert server.attributes["http.response.status_code"] == 200
    assert f"{server.context.trace_id:032x}" == "4bf92f3577b34da6a3ce929d0e0e4736"
    call = next(
        s for s in spans.values() if s.kind == SpanKind.CLIENT and s.name.startswith("chat")
    )
    assert call.parent is not None and call.context.trace_id == server.context.trace_id
    assert "auth" in spans and any(name.startswith("upstream ") for name in spans)
    telemetry.shutdown()


async def test_a_client_that_hangs_up_mid_stream_is_charged_for_what_it_was_sent(
    gateway,
) -> None:
    """Driven as a server drives the app: the client reads the first event, then disconnects
    while the upstream says nothing more. The stream stops at once and is charged (499)."""
    _without_fastapi(gateway)
    gateway.upstream.fail = {"a": ["stall"], "b": ["stall"]}
    key = await gateway.new_key(max_budget=10)
    body = {"model": "chat", "messages": [{"role": "user", "content": "hi " * 40}], "stream": True}
    sent: list[dict[str, Any]] = []
    hung_up = asyncio.Event()
    first = True

    async def receive() -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}
        await hung_up.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if b"Hello" in message.get("body", b""):
            hung_up.set()

    headers = [(b"authorization", f"Bearer {key}".encode()), (b"x-request-id", b"hangup-1")]
    await asyncio.wait_for(gateway.app(post_scope(CHAT, headers), receive, send), 10)
    assert gateway.upstream.hanging.is_set()
    assert (b"x-request-id", b"hangup-1") in sent[0]["headers"]
    assert [m.get("more_body") for m in sent[1:]] == [True]  # nothing after the hang-up
    await gateway.gw.recorder.flush()
    (log,) = await gateway.gw.reports.logs()
    assert (log["request_id"], log["status_code"], log["completion_tokens"]) == ("hangup-1", 499, 1)
    assert log["prompt_tokens"] > 0 and log["cost"] > 0
    (row,) = [k for k in await gateway.gw.reports.keys() if k["key_id"] == log["key_id"]]
    assert row["spend"] == pytest.approx(log["cost"])


async def test_a_client_gone_while_sending_its_body_gets_no_answer_and_holds_nothing(
    gateway,
) -> None:
    _without_fastapi(gateway)
    key = await gateway.new_key(max_parallel_requests=1)
    sent: list[dict[str, Any]] = []
    messages = [
        {"type": "http.request", "body": b'{"model": "chat", ', "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"authorization", f"Bearer {key}".encode())]
    await asyncio.wait_for(gateway.app(post_scope(CHAT, headers), receive, send), 10)
    assert sent == []
    # its parallel slot was given back: the next request on the key is served
    assert (await gateway.chat(key)).status_code == 200


async def test_cors_headers_on_the_fast_path_when_configured(make_gateway) -> None:
    async with make_gateway(cors_origins=["http://ui.example"]) as gw:
        _without_fastapi(gw)
        response = await gw.client.post(
            CHAT,
            json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
            headers={**gw.auth(), "origin": "http://ui.example"},
        )
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "http://ui.example"
        other = await gw.client.post(
            CHAT, json={"model": "chat"}, headers={"origin": "http://elsewhere.example"}
        )
        assert other.status_code == 401
        assert "access-control-allow-origin" not in other.headers
