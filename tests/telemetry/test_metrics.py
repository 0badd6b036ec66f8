"""The metric names: unique, Prometheus-valid, the GenAI ones with the spec's units and buckets."""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, generate_latest

from inferstack.telemetry import ExportStats
from inferstack.telemetry.metrics import ALL, GatewayNames, ServerNames, TracingCollector

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def test_names_are_unique_and_valid() -> None:
    names = [s.name for s in ALL]
    assert len(names) == len(set(names))
    for spec in ALL:
        assert _NAME.match(spec.name), spec.name
        assert spec.name.endswith("_total") == (spec.kind == "counter"), spec.name
        if spec.kind == "histogram":
            assert spec.buckets and list(spec.buckets) == sorted(spec.buckets)


def test_genai_metrics_follow_the_spec() -> None:
    genai = {s.otel_name: s for s in ALL if s.otel_name}
    assert set(genai) == {
        "gen_ai.server.time_to_first_token",
        "gen_ai.server.time_per_output_token",
        "gen_ai.server.request.duration",
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.duration",
    }
    for otel_name, spec in genai.items():
        suffix = "_seconds" if spec.unit == "s" else ""
        assert spec.unit in {"s", "{token}"}
        assert spec.name == otel_name.replace(".", "_") + suffix
    assert ServerNames.GENAI_TTFT.buckets == (
        0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    )  # fmt: skip
    assert ServerNames.GENAI_TPOT.buckets == (
        0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
    )  # fmt: skip
    assert ServerNames.GENAI_DURATION.buckets == (
        0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
    )  # fmt: skip
    assert GatewayNames.GENAI_TOKEN_USAGE.buckets == tuple(4**i for i in range(14))
    assert "gen_ai_token_type" in GatewayNames.GENAI_TOKEN_USAGE.labels


def test_specs_build_collectors_that_expose_their_names() -> None:
    registry = CollectorRegistry()
    ServerNames.GENAI_TTFT.histogram(registry).labels("chat", "inferstack", "m", "m").observe(0.2)
    ServerNames.REQUESTS.counter(registry).labels("m", "chat", "200").inc()
    stats = ExportStats(exported=3, dropped=2)
    registry.register(TracingCollector(lambda: stats, "gateway"))
    text = generate_latest(registry).decode()
    assert "gen_ai_server_time_to_first_token_seconds_bucket{" in text
    assert 'inferstack_requests_total{endpoint="chat",model="m",status="200"} 1.0' in text
    assert 'inferstack_telemetry_spans_dropped_total{service="gateway"} 2.0' in text
