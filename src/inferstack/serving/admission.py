"""Admission control: refuse work the server cannot queue, before any of it starts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from inferstack.errors import OverloadedError

__all__ = ["Admission"]


class Admission:
    """Counts requests in flight; past ``running + waiting`` a new one gets 429 at once."""

    def __init__(self, *, max_running: int, max_waiting: int, retry_after: int) -> None:
        self.limit = max_running + max_waiting
        self.retry_after = retry_after
        self.in_flight = 0

    def acquire(self, count: int = 1) -> None:
        """Take ``count`` units at once (one per generated choice), or none and a 429."""
        if self.in_flight + count > self.limit:
            raise OverloadedError(
                f"the server is at capacity ({self.in_flight} requests in flight); retry later",
                retry_after=self.retry_after,
            )
        self.in_flight += count

    def release(self, count: int = 1) -> None:
        self.in_flight -= count
        assert self.in_flight >= 0, "admission released more than it acquired"

    @contextmanager
    def slot(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()
