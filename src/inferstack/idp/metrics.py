"""Prometheus metrics of one IDP service, in a registry it owns (no process-wide globals).

Names, labels and buckets come from :mod:`inferstack.telemetry.metrics` (``IdpNames``). The
review queue's length is not kept in memory: every scrape counts the documents of each status
in the database, so it is right after a restart and with several writers on one database.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from inferstack.idp.review import STATUSES
from inferstack.idp.store import IdpStore
from inferstack.telemetry.metrics import IdpNames as N

__all__ = ["IdpMetrics", "ReviewQueueCollector"]


class ReviewQueueCollector(Collector):
    """``inferstack_idp_review_queue_documents`` by status, read from the store at scrape time
    (every known status, 0 when none has it)."""

    def __init__(self, store: IdpStore) -> None:
        self._store = store

    def collect(self) -> Iterator[Metric]:
        spec = N.REVIEW_QUEUE
        counts = {**dict.fromkeys(STATUSES, 0), **self._store.status_counts()}
        family = GaugeMetricFamily(spec.name, spec.doc, labels=list(spec.labels))
        for status, count in sorted(counts.items()):
            family.add_metric([status], count)
        yield family

    def describe(self) -> Iterator[Metric]:
        # NOTE: without describe() the registry would call collect() (a query) on register.
        spec = N.REVIEW_QUEUE
        yield GaugeMetricFamily(spec.name, spec.doc, labels=list(spec.labels))


class IdpMetrics:
    def __init__(self, store: IdpStore | None = None) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.documents = N.DOCUMENTS.counter(r)
        self.processing = N.PROCESSING_DURATION.histogram(r)
        self.reviews = N.REVIEWS.counter(r)
        if store is not None:
            r.register(ReviewQueueCollector(store))

    def processed(self, schema: str, decision: str, seconds: float | None) -> None:
        """One document processed to ``decision`` (``failed`` has no duration)."""
        self.documents.labels(schema, decision).inc()
        if seconds is not None:
            self.processing.labels(schema).observe(seconds)

    def render(self) -> bytes:
        """The metrics (this queries the database: call it off the event loop)."""
        return generate_latest(self.registry)
