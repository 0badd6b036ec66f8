"""Key limits on top of a small counter backend.

Windows are fixed minutes of wall-clock time (``floor(time / 60)``), so every replica agrees on
the window without talking to the others; Redis only holds the counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from inferstack.errors import RateLimitError
from inferstack.gateway.key_types import KeyRecord

__all__ = ["WINDOW_S", "Counters", "KeyLimits"]

WINDOW_S = 60


class Counters(Protocol):
    """The storage a limiter needs; both backends implement it."""

    async def add(self, name: str, amount: int, limit: int | None, ttl_s: int) -> bool:
        """Add ``amount`` to counter ``name`` unless that would exceed ``limit``; True if added."""
        ...

    async def get(self, name: str) -> int: ...

    async def release(self, name: str) -> None:
        """Decrement ``name`` by one, never below zero."""
        ...

    async def close(self) -> None: ...


class KeyLimits:
    """Enforces a key's ``rpm_limit``, ``tpm_limit`` and ``max_parallel_requests``."""

    def __init__(self, counters: Counters, *, clock: Callable[[], float] = time.time) -> None:
        self.counters = counters
        self._clock = clock

    def _window(self) -> tuple[int, float]:
        now = self._clock()
        return int(now // WINDOW_S), WINDOW_S - now % WINDOW_S

    async def admit(self, key: KeyRecord) -> bool:
        """Check RPM, TPM and parallel limits before a request; 429 when one is reached.

        Returns whether a parallel slot was taken (then :meth:`done` must release it).
        """
        if key.key_id is None:
            return False
        window, retry_after = self._window()
        if key.tpm_limit is not None:
            used = await self.counters.get(f"tpm:{key.key_id}:{window}")
            if used >= key.tpm_limit:
                raise RateLimitError(
                    f"token limit reached: {used} of {key.tpm_limit} tokens per minute",
                    retry_after=retry_after,
                )
        if key.rpm_limit is not None and not await self.counters.add(
            f"rpm:{key.key_id}:{window}", 1, key.rpm_limit, 2 * WINDOW_S
        ):
            raise RateLimitError(
                f"request limit reached: {key.rpm_limit} requests per minute",
                retry_after=retry_after,
            )
        if key.max_parallel_requests is None:
            return False
        if not await self.counters.add(
            f"parallel:{key.key_id}", 1, key.max_parallel_requests, 3600
        ):
            raise RateLimitError(
                f"parallel limit reached: {key.max_parallel_requests} requests in flight",
                retry_after=1,
            )
        return True

    async def done(self, key: KeyRecord, tokens: int, *, held_slot: bool) -> None:
        """After a request: count its tokens and free its parallel slot."""
        if key.key_id is None:
            return
        if tokens and key.tpm_limit is not None:
            window, _ = self._window()
            await self.counters.add(f"tpm:{key.key_id}:{window}", tokens, None, 2 * WINDOW_S)
        if held_slot:
            await self.counters.release(f"parallel:{key.key_id}")
