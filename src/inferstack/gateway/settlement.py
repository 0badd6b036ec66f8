"""Settling a finished call: record usage and cost, update spend, free limits, count metrics."""

from __future__ import annotations

import time

from inferstack.gateway.call import ProxyCall
from inferstack.gateway.deployments import Deployment
from inferstack.gateway.keys import KeyService
from inferstack.gateway.limits import KeyLimits
from inferstack.gateway.metrics import GatewayMetrics
from inferstack.gateway.usage import Usage, UsageEntry, UsageRecorder, request_cost

__all__ = ["Settlement"]


class Settlement:
    def __init__(
        self,
        *,
        keys: KeyService,
        limits: KeyLimits,
        recorder: UsageRecorder,
        metrics: GatewayMetrics,
    ) -> None:
        self._keys = keys
        self._limits = limits
        self._recorder = recorder
        self.metrics = metrics

    def overhead(self, call: ProxyCall, sent_at: float) -> None:
        """Observe the time the gateway spent before the first upstream attempt went out."""
        if not call.overhead_seen:
            call.overhead_seen = True
            self.metrics.overhead.labels(call.endpoint).observe(sent_at - call.received_at)

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
        latency_s = time.perf_counter() - call.received_at
        ok = 200 <= status < 300
        cost = request_cost(dep.config, usage, upstream_s) if dep is not None and ok else 0.0
        self._keys.add_spend(call.key.key_id, cost)
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
            )
        )
        m = self.metrics
        m.requests.labels(call.endpoint, call.model_group, str(status)).inc()
        m.latency.labels(call.endpoint, call.model_group).observe(latency_s)
        if usage.prompt_tokens:
            m.tokens.labels(call.model_group, "prompt").inc(usage.prompt_tokens)
        if usage.completion_tokens:
            m.tokens.labels(call.model_group, "completion").inc(usage.completion_tokens)
        if cost:
            m.spend.labels(call.model_group).inc(cost)
        await self._limits.done(call.key, usage.total, held_slot=call.held_slot)
