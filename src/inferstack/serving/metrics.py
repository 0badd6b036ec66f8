"""Prometheus metrics of one model server, in a registry owned by the app (no globals)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inferstack.engines.base import EngineStats

__all__ = ["RequestCounter", "ServerMetrics"]

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_TOKEN_TIME_BUCKETS = (0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2)


class _EngineCollector(Collector):
    """Reads the engine's load at scrape time."""

    def __init__(self, stats: Callable[[], EngineStats], model: str) -> None:
        self._stats = stats
        self._model = model

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        s = self._stats()
        for name, doc, value in (
            ("inferstack_running_sequences", "Sequences being decoded.", s.running),
            ("inferstack_waiting_sequences", "Sequences waiting for a slot.", s.waiting),
            (
                "inferstack_kv_cache_usage_ratio",
                "Share of KV cache cells in use.",
                s.kv_cache_usage,
            ),
        ):
            g = GaugeMetricFamily(name, doc, labels=["model"])
            g.add_metric([self._model], value)
            yield g
        c = CounterMetricFamily(
            "inferstack_prefill_tokens_saved",
            "Prompt tokens not prefilled thanks to prefix reuse.",
            labels=["model"],
        )
        c.add_metric([self._model], s.prefill_tokens_saved)
        yield c


class ServerMetrics:
    def __init__(self, model: str, stats: Callable[[], EngineStats]) -> None:
        self.model = model
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "inferstack_requests",
            "Requests by endpoint and HTTP status.",
            ["model", "endpoint", "status"],
            registry=self.registry,
        )
        self.ttft = Histogram(
            "inferstack_time_to_first_token_seconds",
            "Time from request to first token.",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tpot = Histogram(
            "inferstack_time_per_output_token_seconds",
            "Mean time between output tokens.",
            ["model"],
            buckets=_TOKEN_TIME_BUCKETS,
            registry=self.registry,
        )
        self.e2e = Histogram(
            "inferstack_request_duration_seconds",
            "Time from request to last byte.",
            ["model", "endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.prompt_tokens = Counter(
            "inferstack_prompt_tokens",
            "Prompt tokens processed.",
            ["model"],
            registry=self.registry,
        )
        self.completion_tokens = Counter(
            "inferstack_completion_tokens",
            "Completion tokens generated.",
            ["model"],
            registry=self.registry,
        )
        self.registry.register(_EngineCollector(stats, model))

    def observe_generation(
        self, *, ttft: float | None, duration: float, prompt: int, completion: int
    ) -> None:
        if ttft is not None:
            self.ttft.labels(self.model).observe(ttft)
            if completion > 1:
                self.tpot.labels(self.model).observe((duration - ttft) / (completion - 1))
        self.prompt_tokens.labels(self.model).inc(prompt)
        self.completion_tokens.labels(self.model).inc(completion)


class RequestCounter:
    """ASGI middleware: counts every HTTP request by route and final status."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics, routes: set[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        endpoint = path if path in self.routes else "other"
        status = {"code": 500}

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            self.metrics.requests.labels(self.metrics.model, endpoint, str(status["code"])).inc()
