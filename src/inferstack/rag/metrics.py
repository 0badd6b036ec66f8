"""Prometheus metrics of one RAG service, in a registry it owns (no process-wide globals).

Names, labels and buckets come from :mod:`inferstack.telemetry.metrics` (``RagNames``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from time import perf_counter
from typing import Literal

from prometheus_client import CollectorRegistry, generate_latest

from inferstack.errors import InferstackError
from inferstack.rag.grounding import Route
from inferstack.telemetry.metrics import RagNames as N

__all__ = ["Endpoint", "Outcome", "RagMetrics"]

Endpoint = Literal["query", "retrieve"]
Outcome = Route | Literal["invalid", "error"]
"""The route the answer took (a retrieval with hits is ``knowledge_base``, one without
``no_answer``), or how the request failed."""


class RagMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.retrieval = N.RETRIEVAL_DURATION.histogram(r)
        self.queries = N.QUERIES.counter(r)

    @contextmanager
    def retrieving(self, mode: str) -> Iterator[None]:
        """Times one retrieval in ``mode`` (only those that return: a failed one has no
        latency worth a bucket, it is counted as an outcome)."""
        started = perf_counter()
        yield
        self.retrieval.labels(mode).observe(perf_counter() - started)

    @contextmanager
    def counting(self, endpoint: Endpoint) -> Iterator[Callable[[Outcome], None]]:
        """Counts one request to ``endpoint``: the outcome the body reports through the
        yielded setter, or ``invalid`` / ``error`` from the service error that ends it."""
        outcome: list[Outcome] = []
        try:
            yield outcome.append
        except InferstackError as exc:
            outcome.append("invalid" if exc.status < 500 else "error")
            raise
        finally:
            if outcome:
                self.queries.labels(endpoint, outcome[-1]).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
