"""Prometheus metrics of one gateway app (its own registry: no process-wide globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["GatewayMetrics"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "inferstack_gateway_requests_total",
            "Requests answered by the gateway",
            ["endpoint", "model_group", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "inferstack_gateway_request_duration_seconds",
            "Request latency seen by clients (streams: until the last byte)",
            ["endpoint", "model_group"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.overhead = Histogram(
            "inferstack_gateway_overhead_seconds",
            "Time spent in the gateway itself before the upstream answered (auth, limits, routing)",
            ["endpoint"],
            buckets=_OVERHEAD_BUCKETS,
            registry=r,
        )
        self.upstream_errors = Counter(
            "inferstack_gateway_upstream_errors_total",
            "Failed upstream attempts (connection errors, timeouts, 5xx, 429)",
            ["deployment", "kind"],
            registry=r,
        )
        self.tokens = Counter(
            "inferstack_gateway_tokens_total",
            "Tokens through the gateway",
            ["model_group", "kind"],
            registry=r,
        )
        self.spend = Counter(
            "inferstack_gateway_spend_usd_total", "Cost recorded, USD", ["model_group"], registry=r
        )
        self.outstanding = Gauge(
            "inferstack_gateway_outstanding_requests",
            "Requests in flight per deployment",
            ["deployment"],
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
