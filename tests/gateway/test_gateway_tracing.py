"""One request, one trace: client → gateway → model server, in the in-memory span exporter.

The gateway proxies to the real server app (``build_app``) over ``httpx.ASGITransport``; the
engine is an in-memory double that reports its phase timings like the llama.cpp scheduler.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from inferstack.engines.base import (
    Delta,
    Engine,
    EngineStats,
    GenerateRequest,
    ModelInfo,
    RenderedChat,
    Timings,
    Usage,
)
from inferstack.gateway import GatewaySettings, build_gateway_app
from inferstack.serving.app import build_app
from inferstack.serving.settings import ServerSettings
from inferstack.telemetry import Telemetry, TelemetrySettings

MASTER = "sk-master-tracing-test"
CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
MODEL = "tiny"


class TimedEngine(Engine):
    """Echoes the prompt's words; the last delta carries usage and phase timings."""

    def __init__(self) -> None:
        self.info = ModelInfo(id=MODEL, kind="chat", context_length=256)
        self.max_concurrency = 4

    async def start(self) -> None: ...

    async def shutdown(self) -> None: ...

    def stats(self) -> EngineStats:
        return EngineStats()

    def render_chat(self, messages: list[dict[str, Any]], **_: Any) -> RenderedChat:
        return RenderedChat(prompt=" ".join(str(m.get("content")) for m in messages))

    async def generate(self, request: GenerateRequest) -> AsyncIterator[Delta]:
        timings = Timings(time.time_ns())
        assert isinstance(request.prompt, str)
        words = request.prompt.split()
        timings.admitted_ns = time.time_ns()
        for i, word in enumerate(words):
            if i == 0:
                timings.first_token_ns = time.time_ns()
            yield Delta(text=word + " ")
        timings.finished_ns = time.time_ns()
        usage = Usage(len(words) + 2, len(words), cached_tokens=2)
        yield Delta(finish_reason="stop", usage=usage, timings=timings)


class FlakyOnce(httpx.AsyncBaseTransport):
    """Answers the first POST with a 503, then passes everything to ``inner``."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.failed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and not self.failed:
            self.failed = True
            return httpx.Response(503, json={"error": {"message": "busy", "type": "x"}})
        return await self.inner.handle_async_request(request)


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    yield InMemorySpanExporter()


@asynccontextmanager
async def stack(
    tmp_path: Path, exporter: InMemorySpanExporter, *, flaky: bool = False
) -> AsyncIterator[tuple[httpx.AsyncClient, Telemetry, Telemetry]]:
    server_tel = Telemetry.from_settings(
        TelemetrySettings(), service_name="inferstack-server", exporter=exporter
    )
    gateway_tel = Telemetry.from_settings(
        TelemetrySettings(), service_name="inferstack-gateway", exporter=exporter
    )
    server = build_app(ServerSettings(), TimedEngine(), telemetry=server_tel)
    upstream: httpx.AsyncBaseTransport = httpx.ASGITransport(app=server)
    if flaky:
        upstream = FlakyOnce(upstream)
    settings = GatewaySettings(
        state_dir=tmp_path,
        model_groups={MODEL: {"deployments": [{"api_base": "http://server/v1", "name": "s1"}]}},
        router={"num_retries": 1, "retry_backoff_s": 0, "allowed_fails": 5},
        health_check={"enabled": False},
    )
    app = build_gateway_app(settings, master_key=MASTER, transport=upstream, telemetry=gateway_tel)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client, gateway_tel, server_tel
    server_tel.shutdown()
    gateway_tel.shutdown()


def _headers(key: str = MASTER) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {key}",
        "traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01",
    }


def _by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, list[ReadableSpan]]:
    out: dict[str, list[ReadableSpan]] = {}
    for s in spans:
        out.setdefault(s.name, []).append(s)
    return out


def _parent(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def _service(span: ReadableSpan) -> str:
    return str(span.resource.attributes["service.name"])


async def _spans(
    client: httpx.AsyncClient, exporter: InMemorySpanExporter, *tel: Telemetry, **body: Any
) -> list[ReadableSpan]:
    payload = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "one two three"}],
        "max_tokens": 16,
        "temperature": 0.5,
        "top_p": 0.9,
        "seed": 7,
        **body,
    }
    r = await client.post("/v1/chat/completions", json=payload, headers=_headers())
    assert r.status_code == 200, r.text
    if body.get("stream"):
        assert r.text.rstrip().endswith("data: [DONE]")
    for t in tel:
        assert t.flush()
    return list(exporter.get_finished_spans())


@pytest.mark.parametrize("stream", [False, True])
async def test_one_trace_from_client_to_engine(
    tmp_path: Path, exporter: InMemorySpanExporter, stream: bool
) -> None:
    async with stack(tmp_path, exporter) as (client, gw_tel, srv_tel):
        spans = await _spans(client, exporter, gw_tel, srv_tel, stream=stream)
    assert {f"{s.context.trace_id:032x}" for s in spans} == {CLIENT_TRACE}
    by = _by_name(tuple(spans))
    gw_server, srv_server = sorted(by["POST /v1/chat/completions"], key=_service)
    assert _service(gw_server) == "inferstack-gateway" and gw_server.kind is SpanKind.SERVER
    assert _parent(gw_server) == int(CLIENT_SPAN, 16)
    [auth] = by["auth"]
    assert _parent(auth) == gw_server.context.span_id
    gw_chat, srv_chat = sorted(by[f"chat {MODEL}"], key=_service)
    assert gw_chat.kind is SpanKind.CLIENT and _parent(gw_chat) == gw_server.context.span_id
    [route] = by[f"route {MODEL}"]
    [attempt] = by["upstream s1"]
    assert _parent(route) == gw_chat.context.span_id
    assert _parent(attempt) == gw_chat.context.span_id and attempt.kind is SpanKind.CLIENT
    # the traceparent the gateway sent makes the server's SERVER span the attempt's child
    assert _service(srv_server) == "inferstack-server"
    assert _parent(srv_server) == attempt.context.span_id
    assert _parent(srv_chat) == srv_server.context.span_id
    for phase in ("queue", "prefill", "decode"):
        [span] = by[phase]
        assert _parent(span) == srv_chat.context.span_id
    assert attempt.end_time is not None and gw_chat.end_time is not None
    assert attempt.end_time <= gw_chat.end_time  # the call span covers the whole stream

    a = dict(gw_chat.attributes or {})
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "inferstack"
    assert a["gen_ai.request.model"] == MODEL
    assert a["gen_ai.request.max_tokens"] == 16
    assert a["gen_ai.request.temperature"] == 0.5
    assert a["gen_ai.request.top_p"] == 0.9
    assert a["gen_ai.request.seed"] == 7
    assert a["gen_ai.request.stream"] is stream
    assert a["gen_ai.response.model"] == MODEL
    assert a["gen_ai.usage.input_tokens"] == 5
    assert a["gen_ai.usage.output_tokens"] == 3
    if not stream:
        assert a["gen_ai.response.finish_reasons"] == ("stop",)
        assert str(a["gen_ai.response.id"]).startswith("chatcmpl")
    assert "gen_ai.input.messages" not in a  # content is off by default

    s = dict(srv_chat.attributes or {})
    assert srv_chat.kind is SpanKind.INTERNAL
    assert srv_chat.status.status_code is not StatusCode.ERROR
    assert gw_chat.status.status_code is not StatusCode.ERROR
    assert s["gen_ai.response.finish_reasons"] == ("stop",)
    assert s["gen_ai.usage.cache_read.input_tokens"] == 2
    assert s["gen_ai.request.seed"] == 7
    assert dict(by["prefill"][0].attributes or {})["inferstack.prefill.tokens"] == 3
    assert any(e.name == "gen_ai.first_token" for e in srv_chat.events)


async def test_a_retry_is_a_second_attempt_span_in_the_same_call(
    tmp_path: Path, exporter: InMemorySpanExporter
) -> None:
    async with stack(tmp_path, exporter, flaky=True) as (client, gw_tel, srv_tel):
        spans = await _spans(client, exporter, gw_tel, srv_tel)
    by = _by_name(tuple(spans))
    first, second = sorted(by["upstream s1"], key=lambda s: s.start_time or 0)
    assert dict(first.attributes or {})["http.response.status_code"] == 503
    assert dict(first.attributes or {})["error.type"] == "503"
    assert dict(second.attributes or {})["inferstack.attempt"] == 2
    gw_chat = next(s for s in by[f"chat {MODEL}"] if _service(s) == "inferstack-gateway")
    assert {_parent(first), _parent(second)} == {gw_chat.context.span_id}
    [srv_server] = [s for s in by["POST /v1/chat/completions"] if _service(s) != _service(gw_chat)]
    assert _parent(srv_server) == second.context.span_id


async def test_a_key_can_opt_in_to_message_content(
    tmp_path: Path, exporter: InMemorySpanExporter
) -> None:
    async with stack(tmp_path, exporter) as (client, gw_tel, _):
        r = await client.post(
            "/key/generate",
            json={"alias": "team-a", "metadata": {"record_content": True}},
            headers={"Authorization": f"Bearer {MASTER}"},
        )
        key = r.json()["key"]
        payload = {"model": MODEL, "messages": [{"role": "user", "content": "secret words"}]}
        r = await client.post("/v1/chat/completions", json=payload, headers=_headers(key))
        assert r.status_code == 200
        gw_tel.flush()
    [gw_chat] = [
        s
        for s in exporter.get_finished_spans()
        if s.name == f"chat {MODEL}" and _service(s) == "inferstack-gateway"
    ]
    a = dict(gw_chat.attributes or {})
    assert "secret words" in str(a["gen_ai.input.messages"])
    assert a["inferstack.key.alias"] == "team-a"
