"""The bounded export queue: batches, drops and counts, never blocks; the real OTLP exporter."""

from __future__ import annotations

import base64
import threading
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from inferstack.telemetry import Telemetry, TelemetrySettings
from support.otlp import OtlpReceiver
from support.servers import free_port


class BlockedExporter(SpanExporter):
    """Holds the export thread until released, like a collector that never answers."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.entered.set()
        self.release.wait(30)
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.release.set()


def test_spans_are_batched_and_exported() -> None:
    exporter = InMemorySpanExporter()
    t = Telemetry.from_settings(TelemetrySettings(), service_name="svc", exporter=exporter)
    for i in range(10):
        with t.tracer.start_as_current_span(f"s{i}"):
            pass
    assert t.flush()
    assert [s.name for s in exporter.get_finished_spans()] == [f"s{i}" for i in range(10)]
    assert t.stats.exported == 10 and t.stats.dropped == 0
    assert exporter.get_finished_spans()[0].resource.attributes["service.name"] == "svc"
    t.shutdown()


def test_a_full_queue_drops_and_counts_instead_of_blocking() -> None:
    exporter = BlockedExporter()
    settings = TelemetrySettings(max_queue_size=5, max_export_batch_size=1)
    t = Telemetry.from_settings(settings, service_name="svc", exporter=exporter)
    with t.tracer.start_as_current_span("first"):
        pass
    assert exporter.entered.wait(10)  # the export thread is now stuck on the first span
    for i in range(20):
        with t.tracer.start_as_current_span(f"s{i}"):
            pass
    assert t.stats.queued == 1 + 5
    assert t.stats.dropped == 15
    exporter.release.set()
    assert t.flush()
    assert len(exporter.spans) == 6
    t.shutdown()


def test_sampling_ratio_zero_exports_nothing_but_keeps_a_sampled_parent() -> None:
    exporter = InMemorySpanExporter()
    t = Telemetry.from_settings(
        TelemetrySettings(sample_ratio=0.0), service_name="svc", exporter=exporter
    )
    with t.tracer.start_as_current_span("unsampled"):
        pass
    parent = Telemetry.extract({"traceparent": f"00-{'ab' * 16}-{'cd' * 8}-01"})
    with t.tracer.start_as_current_span("continued", context=parent):
        pass
    t.flush()
    assert [s.name for s in exporter.get_finished_spans()] == ["continued"]
    t.shutdown()


def test_disabled_tracing_still_passes_the_callers_context_on() -> None:
    t = Telemetry.from_settings(TelemetrySettings(), service_name="svc", environ={})
    assert not t.enabled
    parent = Telemetry.extract({"traceparent": f"00-{'ab' * 16}-{'cd' * 8}-01"})
    with t.tracer.start_as_current_span("x", context=parent):
        headers: dict[str, str] = {}
        Telemetry.inject(headers)
    assert headers["traceparent"] == f"00-{'ab' * 16}-{'cd' * 8}-01"


def test_langfuse_preset_posts_to_its_path_with_auth_and_headers() -> None:
    with OtlpReceiver() as receiver:
        settings = TelemetrySettings(
            exporter="langfuse",
            langfuse_host=f"http://127.0.0.1:{receiver.port}",
            langfuse_public_key="pk-lf-test",
            langfuse_secret_key="sk-lf-test",
        )
        t = Telemetry.from_settings(settings, service_name="inferstack-gateway", environ={})
        with t.tracer.start_as_current_span("chat gemma-3-270m") as span:
            span.set_attribute("gen_ai.usage.input_tokens", 7)
        assert t.flush()
        assert t.stats.exported == 1
        t.shutdown()
    [req] = receiver.requests
    assert req.path == "/api/public/otel/v1/traces"
    expected = base64.b64encode(b"pk-lf-test:sk-lf-test").decode()
    assert req.headers["authorization"] == f"Basic {expected}"
    assert req.headers["x-langfuse-ingestion-version"] == "4"
    assert req.headers["content-type"] == "application/x-protobuf"
    [span] = receiver.spans()
    assert span.name == "chat gemma-3-270m"
    assert span.service == "inferstack-gateway"
    assert span.attributes["gen_ai.usage.input_tokens"] == 7


def test_a_dead_collector_counts_failures_and_never_raises() -> None:
    settings = TelemetrySettings(
        exporter="otlp", endpoint=f"http://127.0.0.1:{free_port()}/v1/traces", export_timeout_s=1
    )
    t = Telemetry.from_settings(settings, service_name="svc", environ={})
    with t.tracer.start_as_current_span("lost"):
        pass
    assert t.flush(timeout_s=30)
    assert t.processor is not None
    assert t.stats.failed == 1 and t.stats.exported == 0
    t.shutdown(timeout_s=2)
