"""Key limits on top of a small counter backend: admit, reserve, settle.

A request holds what it may use from admission until it is settled:

- a **parallel slot**, as one expiring lease per request (a lost release frees itself);
- **tokens** against the TPM window: its worst case (prompt bound + ``max_tokens``), reserved
  atomically, then corrected to the real count when it ends;
- **money** against the budget: its worst-case cost, as a lease. When the call ends its real
  cost joins the key's spend in this replica at once; with Redis (``shared``) the lease becomes
  the real cost and stays until the usage recorder has written it to the database, because only
  after that does every other replica's view of the key's spend include it.

A key's team and user (:class:`LimitScope`) are held the same way, under their own names
(``team:<id>``, ``user:<id>``): every key of a team draws on one RPM, TPM and budget, and a
request must fit in the key's, the team's and the user's limits all at once. What a refused
request already took is given back by ``settle`` (``release``).

Windows are fixed minutes of wall-clock time (``floor(time / 60)``), so every replica agrees on
the window without talking to the others; Redis only holds the counts.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from inferstack.errors import RateLimitError
from inferstack.gateway.key_types import KeyRecord, LimitScope

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
    scope_tokens: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Team/user name → (window, tokens reserved there)."""
    scope_budgets: list[str] = field(default_factory=list)
    """Team/user names whose budget this call holds a lease on."""


def _of(scope: LimitScope) -> str:
    return f" for {scope.kind} '{scope.id}'"


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
        limits = [(key.key_id, key.tpm_limit, key.rpm_limit, "")]
        limits += [(s.name, s.tpm_limit, s.rpm_limit, _of(s)) for s in key.scopes]
        for name, tpm, _, whose in limits:
            if tpm is not None:
                used = await self.counters.get(f"tpm:{name}:{window}")
                if used >= tpm:
                    raise RateLimitError(
                        f"token limit reached{whose}: {used} of {tpm} tokens per minute",
                        retry_after=retry_after,
                    )
        counted: list[str] = []
        try:
            for name, _, rpm, whose in limits:
                if rpm is None:
                    continue
                if not await self.counters.add(f"rpm:{name}:{window}", 1, rpm, 2 * WINDOW_S):
                    raise RateLimitError(
                        f"request limit reached{whose}: {rpm} requests per minute",
                        retry_after=retry_after,
                    )
                counted.append(name)
            await self._parallel(key, admission)
        except RateLimitError:
            for name in counted:  # a refused request does not use up a request of the minute
                await self.counters.add(f"rpm:{name}:{window}", -1, None, 2 * WINDOW_S)
            raise
        return admission

    async def _parallel(self, key: KeyRecord, admission: Admission) -> None:
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

    async def reserve(
        self,
        key: KeyRecord,
        admission: Admission,
        tokens: int,
        cost: float,
        spend: float,
        scope_spend: Mapping[str, float] | None = None,
    ) -> None:
        """Reserve a call's worst case against TPM and budget, atomically; 429 if it won't fit.

        ``spend`` is the key's spend as this replica knows it now (settled calls included),
        ``scope_spend`` the same for its team and user. What was reserved before a refusal is
        recorded on ``admission``, and given back by ``settle``.
        """
        if key.key_id is None:
            return
        if key.tpm_limit is not None:
            window = await self._tokens(key.key_id, key.tpm_limit, tokens, "the key's")
            admission.tpm_window, admission.tokens = window, tokens
        for scope in key.scopes:
            if scope.tpm_limit is not None:
                window = await self._tokens(
                    scope.name, scope.tpm_limit, tokens, f"{scope.kind} '{scope.id}''s"
                )
                admission.scope_tokens[scope.name] = (window, tokens)
        if cost <= 0:
            return
        if key.max_budget is not None:
            await self._budget(key.key_id, admission, cost, key.max_budget, spend, "")
            admission.budget, admission.cost = True, cost
        for scope in key.scopes:
            if scope.max_budget is not None:
                used = (scope_spend or {}).get(scope.name, scope.spend)
                await self._budget(scope.name, admission, cost, scope.max_budget, used, _of(scope))
                admission.scope_budgets.append(scope.name)
                admission.cost = cost

    async def _tokens(self, name: str, limit: int, tokens: int, whose: str) -> int:
        window, retry_after = self._window()
        if tokens > limit:
            raise RateLimitError(
                f"this request may use up to {tokens} tokens (prompt bound + max_tokens), "
                f"more than {whose} limit of {limit} tokens per minute; lower max_tokens",
                param="max_tokens",
                code="tpm_limit",
            )
        if not await self.counters.add(f"tpm:{name}:{window}", tokens, limit, 2 * WINDOW_S):
            raise RateLimitError(
                f"token limit reached: {tokens} more tokens would pass {whose} "
                f"{limit} tokens per minute (requests in flight count as their max_tokens)",
                retry_after=retry_after,
                code="tpm_limit",
            )
        return window

    async def _budget(
        self, name: str, admission: Admission, cost: float, budget: float, spend: float, whose: str
    ) -> None:
        left = max(0.0, budget - spend)
        if not await self.counters.lease(
            f"budget:{name}", admission.lease_id, cost, left, self._lease_ttl_s
        ):
            held = await self.counters.held(f"budget:{name}")
            raise RateLimitError(
                f"budget exceeded{whose}: this request may cost up to ${cost:.6f}; "
                f"${left:.6f} of ${budget:.6f} is left and ${held:.6f} of it is "
                "held by requests in flight",
                code="budget_exceeded",
            )

    @staticmethod
    def holds(key: KeyRecord, admission: Admission) -> bool:
        """Whether :meth:`settle` has anything to correct or give back for this call."""
        if key.key_id is None:
            return False
        return (
            key.tpm_limit is not None
            or admission.parallel
            or admission.budget
            or bool(admission.scope_budgets)
            or any(scope.tpm_limit is not None for scope in key.scopes)
        )

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
        for scope in key.scopes:
            if scope.tpm_limit is not None:
                window, reserved = admission.scope_tokens.get(scope.name, (self._window()[0], 0))
                if tokens - reserved:
                    await self.counters.add(
                        f"tpm:{scope.name}:{window}", tokens - reserved, None, 2 * WINDOW_S
                    )
                admission.scope_tokens[scope.name] = (window, tokens)
        names = ([key.key_id] if admission.budget else []) + admission.scope_budgets
        for name in names:
            # NOTE: the real cost stays leased until the recorder has written it (``written``):
            # until then another replica's view of the spend may not include it.
            if cost > 0 and self._shared:
                await self.counters.lease(
                    f"budget:{name}", admission.lease_id, cost, None, self._lease_ttl_s
                )
            else:
                await self.counters.release(f"budget:{name}", admission.lease_id)
        if admission.parallel:
            await self.counters.release(f"parallel:{key.key_id}", admission.lease_id)
            admission.parallel = False

    async def written(self, names: list[str], lease_id: str, cost: float) -> None:
        """The cost of a settled call is in the database: keep its leases (under the key's,
        team's and user's ``names``) only a little longer (the time a replica may trust a key
        record it read before that write)."""
        if not self._shared:
            return  # settle already released them: this replica's spend includes the cost
        for name in names:
            await self.counters.lease(f"budget:{name}", lease_id, cost, None, self._settled_ttl_s)
