"""Counters and leases in this process's memory: the default, exact for a single replica."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["MemoryCounters"]


class MemoryCounters:
    """Dicts of counters and leases with expiry; one event loop, no awaits inside: no locks."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._values: dict[str, tuple[int, float]] = {}
        self._leases: dict[str, dict[str, tuple[float, float]]] = {}

    def _current(self, name: str, now: float) -> int:
        value = self._values.get(name)
        if value is None or value[1] <= now:
            return 0
        return value[0]

    async def add(self, name: str, amount: int, limit: int | None, ttl_s: int) -> bool:
        now = self._clock()
        current = self._current(name, now)
        if limit is not None and amount > 0 and current + amount > limit:
            return False
        self._values[name] = (current + amount, now + ttl_s)
        if len(self._values) > 100_000:
            self._values = {k: v for k, v in self._values.items() if v[1] > now}
        return True

    async def get(self, name: str) -> int:
        return self._current(name, self._clock())

    def _live(self, name: str, now: float) -> dict[str, tuple[float, float]]:
        leases = self._leases.setdefault(name, {})
        for lease_id in [k for k, (_, expiry) in leases.items() if expiry <= now]:
            del leases[lease_id]
        return leases

    async def lease(
        self, name: str, lease_id: str, amount: float, limit: float | None, ttl_s: float
    ) -> bool:
        now = self._clock()
        leases = self._live(name, now)
        held = sum(a for k, (a, _) in leases.items() if k != lease_id)
        if limit is not None and held + amount > limit:
            return False
        leases[lease_id] = (amount, now + ttl_s)
        return True

    async def held(self, name: str) -> float:
        return sum(amount for amount, _ in self._live(name, self._clock()).values())

    async def release(self, name: str, lease_id: str) -> None:
        leases = self._leases.get(name)
        if leases is not None:
            leases.pop(lease_id, None)
            if not leases:
                del self._leases[name]

    async def close(self) -> None:
        self._values.clear()
        self._leases.clear()
