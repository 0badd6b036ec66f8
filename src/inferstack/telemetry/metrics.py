"""Every metric of the stack, named in one place, in Prometheus naming.

The GenAI metrics follow the OpenTelemetry GenAI conventions (instrument name, unit and the
explicit bucket boundaries the spec advises), translated to Prometheus as the OTel
Prometheus exporter does: dots become underscores and the unit becomes a suffix
(``gen_ai.server.time_to_first_token`` in ``s`` → ``gen_ai_server_time_to_first_token_seconds``;
``{token}`` adds none). Their labels are the spec's attributes, translated the same way.
The ``inferstack_*`` metrics use the short labels ``model``, ``deployment``, ``model_group``,
``key``, ``status``; the apps' (``inferstack_agent_*``, ``inferstack_rag_*``,
``inferstack_idp_*``) label only bounded values (a tool the agent has, a retrieval mode, a
schema, a status), never a question or a file name.

Components build their collectors from these specs (``spec.counter(registry)``, …), each in a
registry it owns; dashboards and alerts in ``deploy/`` use only the names declared here (a test
checks that).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from inferstack.telemetry.export import ExportStats

__all__ = [
    "ALL",
    "GENAI_DURATION_BUCKETS",
    "GENAI_TOKEN_BUCKETS",
    "GENAI_TPOT_BUCKETS",
    "GENAI_TTFT_BUCKETS",
    "AgentNames",
    "GatewayNames",
    "IdpNames",
    "MetricSpec",
    "RagNames",
    "ServerNames",
    "TelemetryNames",
    "TracingCollector",
]

Kind = Literal["counter", "gauge", "histogram"]

# Bucket boundaries the GenAI conventions advise for each histogram.
GENAI_DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
GENAI_TTFT_BUCKETS = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
GENAI_TPOT_BUCKETS = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
)  # fmt: skip
GENAI_TOKEN_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip

_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_TOKEN_TIME = (0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2)
_OVERHEAD = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1)
_STEPS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 30, 50, 100)
_DOCUMENT = (0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)

_SERVER_GENAI = (
    "gen_ai_operation_name",
    "gen_ai_provider_name",
    "gen_ai_request_model",
    "gen_ai_response_model",
)


@dataclass(frozen=True)
class MetricSpec:
    """One metric: its exposed Prometheus name (counters with ``_total``), help, labels, and
    for GenAI metrics the OpenTelemetry instrument name and unit it translates."""

    name: str
    kind: Kind
    doc: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] | None = None
    otel_name: str | None = None
    unit: str | None = None

    def counter(self, registry: CollectorRegistry) -> Counter:
        assert self.kind == "counter"
        return Counter(self.name, self.doc, self.labels, registry=registry)

    def gauge(self, registry: CollectorRegistry) -> Gauge:
        assert self.kind == "gauge"
        return Gauge(self.name, self.doc, self.labels, registry=registry)

    def histogram(self, registry: CollectorRegistry) -> Histogram:
        assert self.kind == "histogram" and self.buckets is not None
        return Histogram(self.name, self.doc, self.labels, buckets=self.buckets, registry=registry)

    @property
    def series(self) -> tuple[str, ...]:
        """The series names Prometheus stores for this metric."""
        if self.kind == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)


class ServerNames:
    """A model server's metrics."""

    GENAI_TTFT = MetricSpec(
        "gen_ai_server_time_to_first_token_seconds",
        "histogram",
        "Time to generate the first token of successful responses.",
        _SERVER_GENAI,
        GENAI_TTFT_BUCKETS,
        "gen_ai.server.time_to_first_token",
        "s",
    )
    GENAI_TPOT = MetricSpec(
        "gen_ai_server_time_per_output_token_seconds",
        "histogram",
        "Time per output token after the first, of successful responses.",
        _SERVER_GENAI,
        GENAI_TPOT_BUCKETS,
        "gen_ai.server.time_per_output_token",
        "s",
    )
    GENAI_DURATION = MetricSpec(
        "gen_ai_server_request_duration_seconds",
        "histogram",
        "Generative AI server request duration.",
        (*_SERVER_GENAI, "error_type"),
        GENAI_DURATION_BUCKETS,
        "gen_ai.server.request.duration",
        "s",
    )
    REQUESTS = MetricSpec(
        "inferstack_requests_total",
        "counter",
        "Requests by endpoint and HTTP status.",
        ("model", "endpoint", "status"),
    )
    TTFT = MetricSpec(
        "inferstack_time_to_first_token_seconds",
        "histogram",
        "Time from request to first token.",
        ("model",),
        _LATENCY,
    )
    TPOT = MetricSpec(
        "inferstack_time_per_output_token_seconds",
        "histogram",
        "Mean time between output tokens.",
        ("model",),
        _TOKEN_TIME,
    )
    DURATION = MetricSpec(
        "inferstack_request_duration_seconds",
        "histogram",
        "Time from request to last byte.",
        ("model", "endpoint"),
        _LATENCY,
    )
    QUEUE_WAIT = MetricSpec(
        "inferstack_queue_wait_seconds",
        "histogram",
        "Time a generation waited for a sequence slot.",
        ("model",),
        _LATENCY,
    )
    PROMPT_TOKENS = MetricSpec(
        "inferstack_prompt_tokens_total", "counter", "Prompt tokens processed.", ("model",)
    )
    COMPLETION_TOKENS = MetricSpec(
        "inferstack_completion_tokens_total", "counter", "Completion tokens generated.", ("model",)
    )
    RUNNING = MetricSpec(
        "inferstack_running_sequences",
        "gauge",
        "Sequences being decoded (the decode batch).",
        ("model",),
    )
    WAITING = MetricSpec(
        "inferstack_waiting_sequences", "gauge", "Sequences waiting for a slot.", ("model",)
    )
    IN_FLIGHT = MetricSpec(
        "inferstack_requests_in_flight",
        "gauge",
        "Generation requests holding an admission slot (queued or generating).",
        ("model",),
    )
    KV_USAGE = MetricSpec(
        "inferstack_kv_cache_usage_ratio", "gauge", "Share of KV cache cells in use.", ("model",)
    )
    PREFILL_SAVED = MetricSpec(
        "inferstack_prefill_tokens_saved_total",
        "counter",
        "Prompt tokens not prefilled thanks to prefix reuse.",
        ("model",),
    )


class GatewayNames:
    """The gateway's metrics."""

    GENAI_TOKEN_USAGE = MetricSpec(
        "gen_ai_client_token_usage",
        "histogram",
        "Number of input and output tokens used, per upstream call.",
        (
            "gen_ai_operation_name",
            "gen_ai_provider_name",
            "gen_ai_request_model",
            "gen_ai_token_type",
        ),
        GENAI_TOKEN_BUCKETS,
        "gen_ai.client.token.usage",
        "{token}",
    )
    GENAI_OPERATION_DURATION = MetricSpec(
        "gen_ai_client_operation_duration_seconds",
        "histogram",
        "GenAI operation duration, as the gateway's clients see it.",
        ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "error_type"),
        GENAI_DURATION_BUCKETS,
        "gen_ai.client.operation.duration",
        "s",
    )
    REQUESTS = MetricSpec(
        "inferstack_gateway_requests_total",
        "counter",
        "Requests answered by the gateway",
        ("endpoint", "model_group", "status"),
    )
    DURATION = MetricSpec(
        "inferstack_gateway_request_duration_seconds",
        "histogram",
        "Request latency seen by clients (streams: until the last byte)",
        ("endpoint", "model_group"),
        _LATENCY,
    )
    OVERHEAD = MetricSpec(
        "inferstack_gateway_overhead_seconds",
        "histogram",
        "Time spent in the gateway itself before the upstream answered (auth, limits, routing)",
        ("endpoint",),
        _OVERHEAD,
    )
    UPSTREAM_ERRORS = MetricSpec(
        "inferstack_gateway_upstream_errors_total",
        "counter",
        "Failed upstream attempts (connection errors, timeouts, 5xx, 429)",
        ("deployment", "kind"),
    )
    TOKENS = MetricSpec(
        "inferstack_gateway_tokens_total",
        "counter",
        "Tokens through the gateway",
        ("model_group", "kind"),
    )
    SPEND = MetricSpec(
        "inferstack_gateway_spend_usd_total", "counter", "Cost recorded, USD", ("model_group",)
    )
    KEY_TOKENS = MetricSpec(
        "inferstack_gateway_key_tokens_total",
        "counter",
        "Tokens by virtual key (alias, else id) and kind",
        ("key", "model_group", "kind"),
    )
    KEY_SPEND = MetricSpec(
        "inferstack_gateway_key_spend_usd_total",
        "counter",
        "Cost recorded by virtual key (alias, else id), USD",
        ("key", "model_group"),
    )
    KEY_BUDGET_USED = MetricSpec(
        "inferstack_gateway_key_budget_used_ratio",
        "gauge",
        "Spend over max budget of keys that have a budget (last seen by this replica)",
        ("key",),
    )
    OUTSTANDING = MetricSpec(
        "inferstack_gateway_outstanding_requests",
        "gauge",
        "Requests in flight per deployment",
        ("deployment",),
    )
    COOLING_DOWN = MetricSpec(
        "inferstack_gateway_deployment_cooling_down",
        "gauge",
        "1 while a deployment rests after failures (cooldown), else 0",
        ("deployment",),
    )
    USAGE_PENDING = MetricSpec(
        "inferstack_gateway_usage_pending_entries",
        "gauge",
        "Usage entries not yet written to the database",
    )
    USAGE_WRITE_ERRORS = MetricSpec(
        "inferstack_gateway_usage_write_errors_total",
        "counter",
        "Usage entries whose database write failed",
    )


class TelemetryNames:
    """Every process's own tracing health."""

    SPANS_EXPORTED = MetricSpec(
        "inferstack_telemetry_spans_exported_total", "counter", "Spans exported.", ("service",)
    )
    SPANS_DROPPED = MetricSpec(
        "inferstack_telemetry_spans_dropped_total",
        "counter",
        "Spans dropped because the export queue was full (slow or dead collector).",
        ("service",),
    )
    SPANS_FAILED = MetricSpec(
        "inferstack_telemetry_spans_failed_total",
        "counter",
        "Spans whose export request failed.",
        ("service",),
    )


class AgentNames:
    """The agent service's metrics (``inferstack agents serve``): the tool agent's runs and the
    weather function calling. ``agent`` is the agent's name (``agent``, ``weather``); ``tool``
    is one of the agent's tools, or ``unknown`` when the model named a tool it does not have."""

    RUNS = MetricSpec(
        "inferstack_agent_runs_total",
        "counter",
        "Agent runs ended, by stop reason (stop, max_steps, max_tokens, max_time, paused, "
        "error); a paused run counts again when its resumption ends.",
        ("agent", "stop_reason"),
    )
    STEPS = MetricSpec(
        "inferstack_agent_steps_total",
        "counter",
        "Agent steps: model calls made by agent runs.",
        ("agent",),
    )
    RUN_STEPS = MetricSpec(
        "inferstack_agent_run_steps",
        "histogram",
        "Steps (model calls) per run, observed when a run ends other than paused.",
        ("agent",),
        _STEPS,
    )
    TOOL_CALLS = MetricSpec(
        "inferstack_agent_tool_calls_total",
        "counter",
        "Tool calls by tool and outcome (ok, error, denied).",
        ("agent", "tool", "outcome"),
    )
    TOOL_DURATION = MetricSpec(
        "inferstack_agent_tool_duration_seconds",
        "histogram",
        "Time a tool call took (denied calls excluded).",
        ("agent", "tool"),
        _LATENCY,
    )
    QUERIES = MetricSpec(
        "inferstack_agent_queries_total",
        "counter",
        "Supervisor queries answered, by the route that answered (knowledge, tools).",
        ("route",),
    )


class RagNames:
    """The RAG service's metrics (``inferstack rag serve``)."""

    RETRIEVAL_DURATION = MetricSpec(
        "inferstack_rag_retrieval_duration_seconds",
        "histogram",
        "Retrieval time (query embedding, vector and keyword search, fusion, chunk lookup) "
        "by retrieval mode, for /retrieve and /query alike.",
        ("mode",),
        _LATENCY,
    )
    QUERIES = MetricSpec(
        "inferstack_rag_queries_total",
        "counter",
        "Requests by endpoint (query, retrieve) and outcome: the answer's route "
        "(knowledge_base, web_search, no_answer; a retrieval with hits is knowledge_base, one "
        "without no_answer), invalid (4xx) or error (5xx).",
        ("endpoint", "outcome"),
    )


class IdpNames:
    """The IDP service's metrics (``inferstack idp serve``)."""

    DOCUMENTS = MetricSpec(
        "inferstack_idp_documents_processed_total",
        "counter",
        "Documents processed, by schema and decision (auto_approved, pending = sent to "
        "review, failed); a re-upload of a known file is not processed again.",
        ("schema", "decision"),
    )
    PROCESSING_DURATION = MetricSpec(
        "inferstack_idp_processing_duration_seconds",
        "histogram",
        "Time to process one document (read, extract, score, decide, store).",
        ("schema",),
        _DOCUMENT,
    )
    REVIEWS = MetricSpec(
        "inferstack_idp_reviews_total",
        "counter",
        "Reviewer decisions on queued documents, by action (approve, reject).",
        ("action",),
    )
    REVIEW_QUEUE = MetricSpec(
        "inferstack_idp_review_queue_documents",
        "gauge",
        "Documents by review status, counted in the database at scrape time (pending is the "
        "review queue's length).",
        ("status",),
    )


def _specs(*holders: type) -> tuple[MetricSpec, ...]:
    return tuple(
        value
        for holder in holders
        for value in vars(holder).values()
        if isinstance(value, MetricSpec)
    )


ALL: tuple[MetricSpec, ...] = _specs(
    ServerNames, GatewayNames, TelemetryNames, AgentNames, RagNames, IdpNames
)
"""Every metric the stack exposes."""


class TracingCollector(Collector):
    """Exposes the span exporter's counters (``Telemetry.stats``) at scrape time."""

    def __init__(self, stats: Callable[[], ExportStats], service: str) -> None:
        self._stats = stats
        self._service = service

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        for spec, value in (
            (TelemetryNames.SPANS_EXPORTED, stats.exported),
            (TelemetryNames.SPANS_DROPPED, stats.dropped),
            (TelemetryNames.SPANS_FAILED, stats.failed),
        ):
            family = CounterMetricFamily(spec.name, spec.doc, labels=["service"])
            family.add_metric([self._service], value)
            yield family
