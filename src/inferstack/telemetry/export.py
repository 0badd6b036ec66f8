"""A span processor that never blocks the request path: a bounded queue, a worker thread,
drops counted.

``on_end`` (called on the request path when a span ends) only appends to a bounded queue under
a lock; when the queue is full the span is dropped and counted. One daemon thread exports
batches; a slow or dead collector stalls only that thread, so requests keep their latency and
the drop counter says what was lost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

__all__ = ["BoundedBatchProcessor", "ExportStats"]

log = logging.getLogger(__name__)


@dataclass
class ExportStats:
    """Counters since start: spans queued, exported, dropped (queue full), failed (export error)."""

    queued: int = 0
    exported: int = 0
    dropped: int = 0
    failed: int = 0


class BoundedBatchProcessor(SpanProcessor):
    """Batch export of sampled spans through a bounded, drop-and-count queue."""

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        max_queue_size: int = 2048,
        max_export_batch_size: int = 512,
        schedule_delay_s: float = 1.0,
    ) -> None:
        self._exporter = exporter
        self._max_queue = max_queue_size
        self._batch = min(max_export_batch_size, max_queue_size)
        self._delay = schedule_delay_s
        self._queue: deque[ReadableSpan] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._stopping = False
        self.stats = ExportStats()
        self._thread = threading.Thread(
            target=self._run, name="inferstack-span-export", daemon=True
        )
        self._thread.start()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is None or not span.context.trace_flags.sampled:
            return
        with self._lock:
            if self._stopping or len(self._queue) >= self._max_queue:
                self.stats.dropped += 1
                return
            self._queue.append(span)
            self.stats.queued += 1
            full = len(self._queue) >= self._batch
        if full:
            self._wake.set()

    def _take(self) -> list[ReadableSpan]:
        with self._lock:
            n = min(self._batch, len(self._queue))
            batch = [self._queue.popleft() for _ in range(n)]
            self._in_flight = n
            return batch

    def _export(self, batch: Sequence[ReadableSpan]) -> None:
        try:
            result = self._exporter.export(batch)
        except Exception:  # top-level of the export thread: a broken exporter must not kill it
            log.exception("span export raised")
            result = SpanExportResult.FAILURE
        with self._lock:
            if result is SpanExportResult.SUCCESS:
                self.stats.exported += len(batch)
            else:
                self.stats.failed += len(batch)
            self._in_flight = 0
            self._idle.notify_all()

    def _run(self) -> None:
        while True:
            self._wake.wait(self._delay)
            self._wake.clear()
            while True:
                batch = self._take()
                if not batch:
                    with self._lock:
                        self._idle.notify_all()
                    break
                self._export(batch)
            if self._stopping:
                return

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Wait until every queued span has been handed to the exporter (or the timeout)."""
        deadline = time.monotonic() + timeout_millis / 1000
        self._wake.set()
        with self._lock:
            while self._queue or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._wake.set()
                self._idle.wait(min(left, 0.05))
        return True

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Export what is queued (within ``timeout_s``), then stop; later spans are dropped."""
        with self._lock:
            if self._stopping:
                return
        self.force_flush(int(timeout_s * 1000))
        with self._lock:
            self._stopping = True
        self._wake.set()
        self._thread.join(timeout_s)
        self._exporter.shutdown()
