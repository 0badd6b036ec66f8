"""Key limits on top of a small counter backend: admit, reserve, settle.

A request holds what it may use from admission until it is settled:

- a **parallel slot**, as one expiring lease per request (a lost release frees itself);
- **tokens** against the TPM window: its worst case (prompt bound + ``max_tokens``), reserved
  atomically, then corrected to the real count when it ends;
- **money** against the budget: its worst-case cost, as a lease. When the call ends its real
  cost joins the key's spend in this replica at once; with Redis (``shared``) the lease becomes
  the real cost and stays until the usage recorder has written it to the database, because only
  after that does every other replica's view of the key's spend include it.

Windows are fixed minutes of wall-clock time (``floor(time / 60)``), so every replica agrees on
the window without talking to the others; Redis only holds the counts.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from inferstack.errors import RateLimitError
from inferstack.gateway.key_types import KeyRecord

__all__ = ["WINDOW_S", "Admission", "Counters", "KeyLimits"]

WINDOW_S = 60


class Counters(Protocol):
    """The storage a limiter needs; both backends implement it."""

    async def add(self, name: str, amount: int, limit: int | None, ttl_s: int) -> bool:
        """Add ``amount`` to counter ``name`` unless that would exceed ``limit``; True if added.

        A negative amount (giving back part of a reservation) is always applied.
        """
        ...

    async def get(self, name: str) -> int: ...

    async def lease(
        self, name: str, lease_id: str, amount: float, limit: float | None, ttl_s: float
    ) -> bool:
        """Hold ``amount`` under ``name`` for ``lease_id`` (replacing its earlier amount) for
        ``ttl_s``, unless the other live leases plus ``amount`` exceed ``limit``."""
        ...

    async def held(self, name: str) -> float:
        """The sum of the live leases under ``name``."""
        ...

    async def release(self, name: str, lease_id: str) -> None: ...

    async def close(self) -> None: ...


@dataclass
class Admission:
    """What one call holds until it is settled."""

    lease_id: str
    parallel: bool = False  # holds a parallel-request lease
    tpm_window: int | None = None  # the window its tokens were reserved in
    tokens: int = 0  # tokens reserved
    cost: float = 0.0  # USD leased against the budget
    budget: bool = False  # holds a budget lease


class KeyLimits:
    """Enforces a key's ``rpm_limit``, ``tpm_limit``, ``max_parallel_requests`` and budget."""

    def __init__(
        self,
        counters: Counters,
        *,
        clock: Callable[[], float] = time.time,
        lease_ttl_s: float = 900.0,
        settled_ttl_s: float = 5.0,
        shared: bool = False,
    ) -> None:
        self.counters = counters
        self._shared = shared
        self._clock = clock
        self._lease_ttl_s = lease_ttl_s
        self._settled_ttl_s = settled_ttl_s

    def _window(self) -> tuple[int, float]:
        now = self._clock()
        return int(now // WINDOW_S), WINDOW_S - now % WINDOW_S

    async def admit(self, key: KeyRecord) -> Admission:
        """RPM and parallel limits, before the body is even read; 429 when one is reached."""
        admission = Admission(lease_id=secrets.token_hex(12))
        if key.key_id is None:
            return admission
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
        if key.max_parallel_requests is not None:
            if not await self.counters.lease(
                f"parallel:{key.key_id}",
                admission.lease_id,
                1,
                key.max_parallel_requests,
                self._lease_ttl_s,
            ):
                raise RateLimitError(
                    f"parallel limit reached: {key.max_parallel_requests} requests in flight",
                    retry_after=1,
                )
            admission.parallel = True
        return admission

    async def reserve(
        self, key: KeyRecord, admission: Admission, tokens: int, cost: float, spend: float
    ) -> None:
        """Reserve a call's worst case against TPM and budget, atomically; 429 if it won't fit.

        ``spend`` is the key's spend as this replica knows it now (settled calls included).
        """
        if key.key_id is None:
            return
        if key.tpm_limit is not None:
            window, retry_after = self._window()
            if tokens > key.tpm_limit:
                raise RateLimitError(
                    f"this request may use up to {tokens} tokens (prompt bound + max_tokens), "
                    f"more than the key's limit of {key.tpm_limit} tokens per minute; "
                    "lower max_tokens",
                    param="max_tokens",
                    code="tpm_limit",
                )
            if not await self.counters.add(
                f"tpm:{key.key_id}:{window}", tokens, key.tpm_limit, 2 * WINDOW_S
            ):
                raise RateLimitError(
                    f"token limit reached: {tokens} more tokens would pass the key's "
                    f"{key.tpm_limit} tokens per minute (requests in flight count as their "
                    "max_tokens)",
                    retry_after=retry_after,
                    code="tpm_limit",
                )
            admission.tpm_window, admission.tokens = window, tokens
        if key.max_budget is not None and cost > 0:
            left = max(0.0, key.max_budget - spend)
            if not await self.counters.lease(
                f"budget:{key.key_id}", admission.lease_id, cost, left, self._lease_ttl_s
            ):
                held = await self.counters.held(f"budget:{key.key_id}")
                raise RateLimitError(
                    f"budget exceeded: this request may cost up to ${cost:.6f}; "
                    f"${left:.6f} of ${key.max_budget:.6f} is left and ${held:.6f} of it is "
                    "held by requests in flight",
                    code="budget_exceeded",
                )
            admission.budget, admission.cost = True, cost

    async def settle(self, key: KeyRecord, admission: Admission, tokens: int, cost: float) -> None:
        """After a call: correct tokens and cost to what it used, free its parallel slot."""
        if key.key_id is None:
            return
        if key.tpm_limit is not None:
            window = admission.tpm_window
            if window is None:  # refused before its reservation, or a cache hit
                window, _ = self._window()
            delta = tokens - admission.tokens
            if delta:
                await self.counters.add(f"tpm:{key.key_id}:{window}", delta, None, 2 * WINDOW_S)
            admission.tokens = tokens
        if admission.budget:
            # NOTE: the real cost stays leased until the recorder has written it (``written``):
            # until then another replica's view of the key's spend may not include it.
            if cost > 0 and self._shared:
                await self.counters.lease(
                    f"budget:{key.key_id}", admission.lease_id, cost, None, self._lease_ttl_s
                )
            else:
                await self.counters.release(f"budget:{key.key_id}", admission.lease_id)
        if admission.parallel:
            await self.counters.release(f"parallel:{key.key_id}", admission.lease_id)
            admission.parallel = False

    async def written(self, key_id: str, lease_id: str, cost: float) -> None:
        """The cost of a settled call is in the database: keep its lease only a little longer
        (the time a replica may trust a key record it read before that write)."""
        if not self._shared:
            return  # settle already released it: this replica's spend includes the cost
        await self.counters.lease(f"budget:{key_id}", lease_id, cost, None, self._settled_ttl_s)
