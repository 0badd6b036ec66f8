"""The IDP service continues the caller's trace: a SERVER span per request (probes and
scrapes untraced)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from inferstack.idp.app import build_app
from inferstack.idp.settings import IdpSettings
from inferstack.telemetry import Telemetry, TelemetrySettings

TRACE = "2bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


def test_requests_continue_the_callers_trace(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    tel = Telemetry.from_settings(TelemetrySettings(), service_name="idp", exporter=exporter)
    settings = IdpSettings(state_dir=tmp_path / "state", calibration="none")
    with TestClient(build_app(settings, telemetry=tel)) as http:
        r = http.get("/v1/idp/documents", headers={"traceparent": f"00-{TRACE}-{PARENT}-01"})
        assert r.status_code == 200, r.text
        assert http.get("/health").status_code == 200
        assert http.get("/metrics").status_code == 200
        missing = http.get(
            "/v1/idp/documents/999", headers={"traceparent": f"00-{TRACE}-{PARENT}-01"}
        )
        assert missing.status_code == 404
    tel.flush()
    span, by_template = exporter.get_finished_spans()
    # a templated route is named by its template, never by the id in the path
    assert by_template.name == "GET /v1/idp/documents/{document_id}"
    assert by_template.attributes is not None
    assert by_template.attributes["http.route"] == "/v1/idp/documents/{document_id}"
    assert by_template.attributes["url.path"] == "/v1/idp/documents/999"
    assert (span.name, span.kind) == ("GET /v1/idp/documents", SpanKind.SERVER)
    assert f"{span.context.trace_id:032x}" == TRACE
    assert span.parent is not None and f"{span.parent.span_id:016x}" == PARENT
    assert span.attributes is not None and span.attributes["http.response.status_code"] == 200
    tel.shutdown()
