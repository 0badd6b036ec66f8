"""Counters in this process's memory: the default, exact for a single gateway replica."""

from __future__ import annotations

import time

__all__ = ["MemoryCounters"]


class MemoryCounters:
    """A dict of counters with expiry; everything runs on one event loop, so no locks."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[int, float]] = {}

    def _current(self, name: str, now: float) -> int:
        value = self._values.get(name)
        if value is None or value[1] <= now:
            return 0
        return value[0]

    async def add(self, name: str, amount: int, limit: int | None, ttl_s: int) -> bool:
        now = time.monotonic()
        current = self._current(name, now)
        if limit is not None and current + amount > limit:
            return False
        self._values[name] = (current + amount, now + ttl_s)
        if len(self._values) > 100_000:
            self._values = {k: v for k, v in self._values.items() if v[1] > now}
        return True

    async def get(self, name: str) -> int:
        return self._current(name, time.monotonic())

    async def release(self, name: str) -> None:
        now = time.monotonic()
        current = self._current(name, now)
        if current > 0:
            self._values[name] = (current - 1, self._values[name][1])

    async def close(self) -> None:
        self._values.clear()
