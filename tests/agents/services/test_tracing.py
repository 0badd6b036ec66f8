"""The agent service continues the caller's trace: a SERVER span per request, the agents'
``invoke_agent`` spans and a ``chat {model}`` CLIENT span per model call under it, and the
model request (through :func:`model_client`) carries that span as traceparent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import httpx2
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from inferstack.agents.services.app import build_app, model_client
from inferstack.agents.settings import AgentSettings
from inferstack.telemetry import Telemetry, TelemetrySettings
from support.fake_chat import FakeModel, text

TRACE = "3bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


def _sdk_handler(model: FakeModel) -> Callable[[httpx2.Request], httpx2.Response]:
    """``model`` behind the transport type the openai SDK's own client (httpx2) takes."""

    def handle(request: httpx2.Request) -> httpx2.Response:
        r = model.handle(
            httpx.Request(
                request.method,
                str(request.url),
                headers=dict(request.headers),
                content=request.read(),
            )
        )
        return httpx2.Response(r.status_code, headers=dict(r.headers), content=r.content)

    return handle


def _id(span: ReadableSpan) -> str:
    return f"{span.context.span_id:016x}"


def test_a_query_continues_the_callers_trace(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    tel = Telemetry.from_settings(TelemetrySettings(), service_name="agents", exporter=exporter)
    s = AgentSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'a.db'}",
        base_url="http://model.test/v1",
        model="m",
    )
    model = FakeModel(text("Hi!"), repeat_last=True)
    client = model_client(s, transport=httpx2.MockTransport(_sdk_handler(model)))
    with TestClient(build_app(s, client=client, telemetry=tel)) as http:
        r = http.post(
            "/query",
            json={"question": "hello"},
            headers={"traceparent": f"00-{TRACE}-{PARENT}-01"},
        )
        assert r.status_code == 200, r.text
        assert http.get("/health").status_code == 200
    tel.flush()
    spans = [s for s in exporter.get_finished_spans() if f"{s.context.trace_id:032x}" == TRACE]
    [server] = [s for s in spans if s.kind is SpanKind.SERVER]
    assert server.name == "POST /query"
    assert server.parent is not None and f"{server.parent.span_id:016x}" == PARENT
    by_id = {_id(s): s for s in spans}
    chats = [s for s in spans if s.name == "chat m"]
    assert chats and all(c.kind is SpanKind.CLIENT for c in chats)
    for chat in chats:  # each model call sits in the request's tree
        node = chat
        while node.parent is not None and f"{node.parent.span_id:016x}" in by_id:
            node = by_id[f"{node.parent.span_id:016x}"]
        assert node is server
    agent_chat = next(
        c
        for c in chats
        if c.parent and by_id[f"{c.parent.span_id:016x}"].name.startswith("invoke_agent")
    )
    assert agent_chat.attributes is not None
    assert agent_chat.attributes["gen_ai.usage.output_tokens"] >= 0
    assert agent_chat.attributes["server.address"] == "model.test"
    assert f"00-{TRACE}-{_id(agent_chat)}-01" in model.traceparents
    assert all(tp and tp.startswith(f"00-{TRACE}-") for tp in model.traceparents)
    tel.shutdown()
