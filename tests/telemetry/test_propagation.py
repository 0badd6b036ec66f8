"""The httpx hooks write the current span as traceparent, and nothing without one."""

from __future__ import annotations

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from inferstack.telemetry import Telemetry, TelemetrySettings
from inferstack.telemetry.propagation import async_hooks, sync_hooks


def _span_of(traceparent: str) -> str:
    """``traceparent`` without its flags (the SDK may set the random-trace-id flag too)."""
    return traceparent.rsplit("-", 1)[0]


def _recorder(seen: list[str | None]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("traceparent"))
        return httpx.Response(200)

    return httpx.MockTransport(handle)


async def test_async_hooks_send_the_current_span() -> None:
    t = Telemetry.from_settings(
        TelemetrySettings(), service_name="svc", exporter=InMemorySpanExporter()
    )
    seen: list[str | None] = []
    async with httpx.AsyncClient(transport=_recorder(seen), event_hooks=async_hooks()) as c:
        await c.get("http://next/")
        with t.tracer.start_as_current_span("call") as span:
            await c.get("http://next/")
    ctx = span.get_span_context()
    assert seen[0] is None
    assert seen[1] is not None and _span_of(seen[1]) == f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}"
    t.shutdown()


def test_sync_hooks_send_the_current_span() -> None:
    t = Telemetry.from_settings(
        TelemetrySettings(), service_name="svc", exporter=InMemorySpanExporter()
    )
    seen: list[str | None] = []
    client = httpx.Client(transport=_recorder(seen), event_hooks=sync_hooks())
    with client, t.tracer.start_as_current_span("call") as span:
        client.get("http://next/")
    ctx = span.get_span_context()
    assert [_span_of(tp) for tp in seen if tp] == [f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}"]
    t.shutdown()


def test_a_command_continues_the_trace_its_environment_names() -> None:
    t = Telemetry.from_settings(
        TelemetrySettings(), service_name="svc", exporter=InMemorySpanExporter()
    )
    trace_id, parent = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    env = {"TRACEPARENT": f"00-{trace_id}-{parent}-01"}
    with t.tracer.start_as_current_span("cmd", context=Telemetry.environment_context(env)) as s:
        ctx = s.get_span_context()
    assert f"{ctx.trace_id:032x}" == trace_id
    assert s.parent is not None and f"{s.parent.span_id:016x}" == parent  # type: ignore[attr-defined]
    with t.tracer.start_as_current_span("root", context=Telemetry.environment_context({})) as r:
        assert r.parent is None  # type: ignore[attr-defined]
    t.shutdown()
