"""Prometheus metrics of one gateway app (its own registry: no process-wide globals).

Names, labels and buckets come from :mod:`inferstack.telemetry.metrics`.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics import MetricWrapperBase

from inferstack.telemetry.metrics import GatewayNames as N
from inferstack.telemetry.metrics import TracingCollector
from inferstack.telemetry.tracing import Telemetry

__all__ = ["GatewayMetrics"]


class GatewayMetrics:
    def __init__(self, telemetry: Telemetry | None = None) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.requests = N.REQUESTS.counter(r)
        self.latency = N.DURATION.histogram(r)
        self.overhead = N.OVERHEAD.histogram(r)
        self.upstream_errors = N.UPSTREAM_ERRORS.counter(r)
        self.tokens = N.TOKENS.counter(r)
        self.spend = N.SPEND.counter(r)
        self.key_tokens = N.KEY_TOKENS.counter(r)
        self.key_spend = N.KEY_SPEND.counter(r)
        self.key_budget_used = N.KEY_BUDGET_USED.gauge(r)
        self.outstanding = N.OUTSTANDING.gauge(r)
        self.cooling_down = N.COOLING_DOWN.gauge(r)
        self.usage_pending = N.USAGE_PENDING.gauge(r)
        self.usage_write_errors = N.USAGE_WRITE_ERRORS.counter(r)
        self.genai_token_usage = N.GENAI_TOKEN_USAGE.histogram(r)
        self.genai_duration = N.GENAI_OPERATION_DURATION.histogram(r)
        if telemetry is not None:
            r.register(TracingCollector(lambda: telemetry.stats, telemetry.service_name))
        self._children: dict[tuple[MetricWrapperBase, tuple[str, ...]], Any] = {}

    def child(self, metric: MetricWrapperBase, *labels: str) -> Any:
        """``metric.labels(*labels)``, looked up once per label set.

        NOTE: every settled call updates a dozen series; ``labels()`` validates and locks each
        time, and that cost more than the updates themselves. The series are the same objects
        the registry holds (nothing here removes a series).
        """
        key = (metric, labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def render(self) -> bytes:
        return generate_latest(self.registry)
