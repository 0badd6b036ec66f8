"""TracingMiddleware: a SERVER span per request, child of the caller's traceparent."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from inferstack.telemetry import Telemetry, TelemetrySettings, TracingMiddleware

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"


def _app(telemetry: Telemetry) -> FastAPI:
    app = FastAPI()
    seen: dict[str, str] = {}

    @app.post("/v1/chat/completions")
    async def chat() -> StreamingResponse:
        Telemetry.inject(seen)  # what a handler would send to the next hop

        async def body():  # type: ignore[no-untyped-def]
            yield b"data: 1\n\n"
            yield b"data: [DONE]\n\n"

        return StreamingResponse(body(), media_type="text/event-stream")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(TracingMiddleware, telemetry=telemetry, routes={"/v1/chat/completions"})
    app.state.seen = seen
    return app


async def test_server_span_continues_the_callers_trace() -> None:
    exporter = InMemorySpanExporter()
    t = Telemetry.from_settings(TelemetrySettings(), service_name="svc", exporter=exporter)
    app = _app(t)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        r = await client.post(
            "/v1/chat/completions", headers={"traceparent": f"00-{TRACE_ID}-{PARENT}-01"}
        )
        assert r.status_code == 200
        assert (await client.get("/health")).status_code == 200
    t.flush()
    [span] = exporter.get_finished_spans()
    assert span.name == "POST /v1/chat/completions"
    assert span.kind is SpanKind.SERVER
    assert f"{span.context.trace_id:032x}" == TRACE_ID
    assert span.parent is not None and f"{span.parent.span_id:016x}" == PARENT
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 200
    assert span.attributes["http.route"] == "/v1/chat/completions"
    # the handler saw the server span as current: the next hop is its child
    assert app.state.seen["traceparent"] == f"00-{TRACE_ID}-{span.context.span_id:016x}-01"
    t.shutdown()


async def test_with_tracing_off_the_callers_context_passes_through() -> None:
    app = _app(Telemetry.disabled())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        await client.post(
            "/v1/chat/completions", headers={"traceparent": f"00-{TRACE_ID}-{PARENT}-01"}
        )
    assert app.state.seen["traceparent"] == f"00-{TRACE_ID}-{PARENT}-01"


def test_templated_routes_name_their_spans_by_template() -> None:
    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        return None

    m = TracingMiddleware(
        app,  # type: ignore[arg-type]
        Telemetry.disabled(),
        routes={"/v1/idp/documents", "/v1/idp/documents/{document_id}/approve"},
    )
    assert m.route("/v1/idp/documents") == "/v1/idp/documents"
    assert m.route("/v1/idp/documents/7/approve") == "/v1/idp/documents/{document_id}/approve"
    assert m.route("/v1/idp/documents/7/8/approve") == "other"
    assert m.route("/v1/idp/other") == "other"
