"""Each stage of the pipeline is a span under one ``idp.process`` span per document, and the
model request carries that trace (``traceparent``), so the model server's spans join it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from inferstack.idp.pipeline import Processor
from inferstack.idp.schemas import BUILTIN_SCHEMAS
from inferstack.idp.settings import IdpSettings
from inferstack.idp.store import IdpStore
from inferstack.telemetry.settings import TelemetrySettings
from inferstack.telemetry.tracing import Telemetry
from support.idp_docs import INVOICE_LINES, render_image


def test_every_stage_is_a_span_and_the_model_call_carries_the_trace(tmp_path: Path) -> None:
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("traceparent", ""))
        answer = {
            "invoice_number": "INV-2041",
            "invoice_date": "2024-03-15",
            "vendor_name": "Acme Tools Ltd",
            "total_amount": "123.45",
            "currency": "EUR",
        }
        message = {"role": "assistant", "content": json.dumps(answer)}
        choice = {"index": 0, "finish_reason": "stop", "message": message}
        return httpx.Response(200, json={"model": "m", "choices": [choice]})

    exporter = InMemorySpanExporter()
    telemetry = Telemetry.from_settings(
        TelemetrySettings(), service_name="inferstack-idp", exporter=exporter
    )
    path = tmp_path / "invoice.png"
    render_image(path, INVOICE_LINES)
    settings = IdpSettings(state_dir=tmp_path / "state", calibration="none")
    client = httpx.Client(transport=httpx.MockTransport(handle), base_url="http://m/v1")
    store = IdpStore(settings.resolved_database_url())
    processor = Processor(settings, client, store, telemetry=telemetry)
    doc = processor.process(path, "invoice", BUILTIN_SCHEMAS["invoice"])
    processor.process(path, "invoice", BUILTIN_SCHEMAS["invoice"])  # reused: no stages
    store.close()
    telemetry.flush()
    spans = exporter.get_finished_spans()
    first, again = [s for s in spans if s.name == "idp.process"]
    children = [
        s for s in spans if s.parent is not None and s.parent.span_id == first.context.span_id
    ]
    assert [s.name for s in children] == ["idp.read", "idp.extract", "idp.score", "idp.store"]
    read, extract, score, _ = children
    assert read.attributes is not None and read.attributes["inferstack.idp.pages"] == 1
    assert score.attributes is not None
    assert score.attributes["inferstack.idp.status"] == doc["status"]
    assert first.attributes is not None
    assert first.attributes["inferstack.idp.document_id"] == doc["id"]
    assert again.attributes is not None and again.attributes["inferstack.idp.reused"] is True
    # W3C traceparent: version-traceid-spanid-flags; the model call's parent is idp.extract
    [header] = seen
    _, trace_id, span_id, _ = header.split("-")
    assert int(trace_id, 16) == first.context.trace_id
    assert int(span_id, 16) == extract.context.span_id
    assert set(doc["seconds"]) == {"read", "extract", "score", "store"}
    assert all(v >= 0 for v in doc["seconds"].values())
    telemetry.shutdown()
