"""Prometheus metrics of one model server, in a registry owned by the app (no globals)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inferstack.engines.base import EngineStats
from inferstack.telemetry.metrics import ServerNames as N
from inferstack.telemetry.metrics import TracingCollector
from inferstack.telemetry.tracing import Telemetry

__all__ = ["RequestCounter", "ServerMetrics"]

_PROVIDER = "inferstack"


class _EngineCollector(Collector):
    """Reads the engine's load at scrape time."""

    def __init__(
        self, stats: Callable[[], EngineStats], model: str, in_flight: Callable[[], int]
    ) -> None:
        self._stats = stats
        self._model = model
        self._in_flight = in_flight

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        s = self._stats()
        for spec, value in (
            (N.IN_FLIGHT, float(self._in_flight())),
            (N.RUNNING, s.running),
            (N.WAITING, s.waiting),
            (N.KV_USAGE, s.kv_cache_usage),
        ):
            g = GaugeMetricFamily(spec.name, spec.doc, labels=["model"])
            g.add_metric([self._model], value)
            yield g
        c = CounterMetricFamily(N.PREFILL_SAVED.name, N.PREFILL_SAVED.doc, labels=["model"])
        c.add_metric([self._model], s.prefill_tokens_saved)
        yield c


class ServerMetrics:
    """The server's metrics (names in :mod:`inferstack.telemetry.metrics`), GenAI ones included."""

    def __init__(
        self,
        model: str,
        stats: Callable[[], EngineStats],
        telemetry: Telemetry | None = None,
        in_flight: Callable[[], int] = lambda: 0,
    ) -> None:
        self.model = model
        self.registry = r = CollectorRegistry()
        self.requests = N.REQUESTS.counter(r)
        self.ttft = N.TTFT.histogram(r)
        self.tpot = N.TPOT.histogram(r)
        self.e2e = N.DURATION.histogram(r)
        self.queue_wait = N.QUEUE_WAIT.histogram(r)
        self.prompt_tokens = N.PROMPT_TOKENS.counter(r)
        self.completion_tokens = N.COMPLETION_TOKENS.counter(r)
        self.genai_ttft = N.GENAI_TTFT.histogram(r)
        self.genai_tpot = N.GENAI_TPOT.histogram(r)
        self.genai_duration = N.GENAI_DURATION.histogram(r)
        self.registry.register(_EngineCollector(stats, model, in_flight))
        if telemetry is not None:
            self.registry.register(
                TracingCollector(lambda: telemetry.stats, telemetry.service_name)
            )

    def observe_generation(
        self,
        *,
        ttft: float | None,
        duration: float,
        prompt: int,
        completion: int,
        operation: str = "chat",
        queue_wait: float | None = None,
    ) -> None:
        genai = (operation, _PROVIDER, self.model, self.model)
        if ttft is not None:
            self.ttft.labels(self.model).observe(ttft)
            self.genai_ttft.labels(*genai).observe(ttft)
            if completion > 1:
                tpot = (duration - ttft) / (completion - 1)
                self.tpot.labels(self.model).observe(tpot)
                self.genai_tpot.labels(*genai).observe(tpot)
        if queue_wait is not None:
            self.queue_wait.labels(self.model).observe(queue_wait)
        self.genai_duration.labels(*genai, "").observe(duration)
        self.prompt_tokens.labels(self.model).inc(prompt)
        self.completion_tokens.labels(self.model).inc(completion)

    def observe_failure(self, *, duration: float, operation: str, error_type: str) -> None:
        """A generation that ended in an error: its duration, labelled with the error type."""
        self.genai_duration.labels(
            operation, _PROVIDER, self.model, self.model, error_type
        ).observe(duration)


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
