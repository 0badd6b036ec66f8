"""Settling a finished call: record usage and cost, update spend, free limits, count metrics.

The limit bookkeeping runs in its own task, shielded from the request's cancellation: a client
that goes away mid-request cancels the request's task, and a settlement cancelled halfway would
leak a parallel slot or a budget reservation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any

from inferstack.errors import ServiceUnavailableError
from inferstack.gateway.call import ProxyCall
from inferstack.gateway.deployments import Deployment
from inferstack.gateway.key_types import KeyRecord
from inferstack.gateway.keys import KeyService
from inferstack.gateway.limits import Admission, KeyLimits
from inferstack.gateway.metrics import GatewayMetrics
from inferstack.gateway.tracing import PROVIDER, GatewayTracer
from inferstack.gateway.usage import Usage, UsageEntry, UsageRecorder, request_cost, spend_names
from inferstack.telemetry.genai import operation_for_endpoint

__all__ = ["Settlement"]

logger = logging.getLogger(__name__)

# A client that disconnects is still charged for what the upstream did for it.
_CHARGED = {499}


def _trace_id(call: ProxyCall) -> str | None:
    """The trace of the call when tracing recorded one (for the console's trace links)."""
    if call.span is None or not call.span.is_recording():
        return None
    context = call.span.get_span_context()
    return f"{context.trace_id:032x}" if context.trace_id else None


class Settlement:
    def __init__(
        self,
        *,
        keys: KeyService,
        limits: KeyLimits,
        recorder: UsageRecorder,
        metrics: GatewayMetrics,
        tracer: GatewayTracer | None = None,
    ) -> None:
        self._tracer = tracer
        self._keys = keys
        self._limits = limits
        self._recorder = recorder
        self.metrics = metrics
        self._tasks: set[asyncio.Task[Any]] = set()

    async def shielded(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` to its end even if the caller is cancelled meanwhile."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        await asyncio.shield(task)

    async def drain(self) -> None:
        """Wait for every settlement still running (on shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _settle_limits(
        self, key: KeyRecord, admission: Admission, tokens: int, cost: float
    ) -> None:
        try:
            await self._limits.settle(key, admission, tokens, cost)
        except ServiceUnavailableError as exc:
            # The answer is already decided (often sent): a lost release only costs capacity
            # until the lease expires (lease_ttl_s) or the TPM window ends.
            logger.warning("could not settle the limits of key %s: %s", key.key_id, exc.message)

    async def release(self, key: KeyRecord, admission: Admission) -> None:
        """Give back what a call refused before it was proxied holds."""
        if KeyLimits.holds(key, admission):
            await self.shielded(self._settle_limits(key, admission, 0, 0.0))

    def overhead(self, call: ProxyCall, sent_at: float) -> None:
        """Observe the time the gateway spent before the first upstream attempt went out."""
        if not call.overhead_seen:
            call.overhead_seen = True
            m = self.metrics
            m.child(m.overhead, call.endpoint).observe(sent_at - call.received_at)

    async def done(
        self,
        call: ProxyCall,
        dep: Deployment | None,
        usage: Usage,
        status: int,
        *,
        upstream_s: float = 0.0,
        ttft_s: float | None = None,
        cache_hit: bool = False,
    ) -> None:
        """Settle ``call`` exactly once, whatever path it ended on."""
        if call.done:
            return
        call.done = True
        trace_id = _trace_id(call)  # NOTE: before end_call: an ended span is not recording
        if self._tracer is not None:
            self._tracer.end_call(call, dep, usage, status, cache_hit)
        latency_s = time.perf_counter() - call.received_at
        charged = 200 <= status < 300 or status in _CHARGED
        cost = request_cost(dep.config, usage, upstream_s) if dep is not None and charged else 0.0
        self._keys.add_spend(call.key, cost)
        holds_budget = call.admission.budget or bool(call.admission.scope_budgets)
        self._recorder.record(
            UsageEntry(
                request_id=call.request_id,
                key_id=call.key.key_id,
                endpoint=call.endpoint,
                model_group=call.model_group,
                deployment=dep.id if dep is not None else None,
                usage=usage,
                latency_s=latency_s,
                ttft_s=ttft_s,
                cost=cost,
                status_code=status,
                stream=call.stream,
                cache_hit=cache_hit,
                lease_id=call.admission.lease_id if holds_budget else None,
                team_id=call.key.team_id,
                user_id=call.key.user_id,
                trace_id=trace_id,
            )
        )
        m, child = self.metrics, self.metrics.child
        child(m.requests, call.endpoint, call.model_group, str(status)).inc()
        child(m.latency, call.endpoint, call.model_group).observe(latency_s)
        if usage.prompt_tokens:
            child(m.tokens, call.model_group, "prompt").inc(usage.prompt_tokens)
        if usage.completion_tokens:
            child(m.tokens, call.model_group, "completion").inc(usage.completion_tokens)
        if cost:
            child(m.spend, call.model_group).inc(cost)
        self._observe_genai(call, usage, status, latency_s, cost)
        # NOTE: a key without limits holds nothing to give back: no task for it.
        if KeyLimits.holds(call.key, call.admission):
            await self.shielded(self._settle_limits(call.key, call.admission, usage.total, cost))

    def _observe_genai(
        self, call: ProxyCall, usage: Usage, status: int, latency_s: float, cost: float
    ) -> None:
        """The GenAI client metrics and the per-key token and spend counters."""
        m, child = self.metrics, self.metrics.child
        operation = operation_for_endpoint(call.endpoint)
        labels = (operation, PROVIDER, call.model_group)
        child(m.genai_duration, *labels, "" if status < 400 else str(status)).observe(latency_s)
        key = call.key.alias or call.key.key_id or "master"
        for kind, tokens in (("input", usage.prompt_tokens), ("output", usage.completion_tokens)):
            if tokens:
                child(m.genai_token_usage, *labels, kind).observe(tokens)
                child(m.key_tokens, key, call.model_group, kind).inc(tokens)
        if cost:
            child(m.key_spend, key, call.model_group).inc(cost)
        if call.key.max_budget:
            child(m.key_budget_used, key).set((call.key.spend + cost) / call.key.max_budget)

    async def written(self, entries: list[UsageEntry]) -> None:
        """The recorder wrote ``entries``: their costs are now in every replica's view."""
        for entry in entries:
            if entry.lease_id is not None and entry.key_id is not None and entry.cost > 0:
                await self._limits.written(spend_names(entry), entry.lease_id, entry.cost)
