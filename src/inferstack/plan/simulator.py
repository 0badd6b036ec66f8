"""A discrete-event simulator of one serving pool: a router, batched replicas, Ray Serve's
autoscaler, nodes that take time to provision and replicas that take time to load.

Events are request arrivals, replica step ends, replicas becoming ready and autoscaler ticks.
The router sends a request to the ready replica with the fewest ongoing requests that is under
``max_ongoing_requests`` and holds it in a queue when there is none (Ray Serve keeps such
requests at the proxy). Nodes hold ``replicas_per_node`` replicas; an empty node is released
after ``consolidate_after_s`` (Karpenter's consolidation); nodes are paid from launch to release.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from inferstack.plan.autoscaling import Autoscaler, AutoscalingConfig
from inferstack.plan.replica import Recorder, Replica
from inferstack.plan.service import ServiceModel
from inferstack.plan.stats import SimSummary, summarize
from inferstack.plan.workload import SimRequest, Slo

__all__ = ["PoolSpec", "SimResult", "Simulation", "simulate"]


class PoolSpec(BaseModel):
    """How a pool is built and paid for."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    price_per_node_hour: float = Field(default=0.0, ge=0, description="USD per node-hour")
    replicas_per_node: int = Field(default=1, ge=1)
    replicas: int = Field(default=1, ge=1, description="fixed replica count (no autoscaling)")
    autoscaling: AutoscalingConfig | None = Field(default=None)
    max_ongoing_requests: int | None = Field(
        default=None, ge=1, description="per replica; default: unlimited (queue at the replica)"
    )
    node_provision_s: float = Field(default=90.0, ge=0, description="new node to schedulable")
    model_load_s: float = Field(default=30.0, ge=0, description="replica start to ready")
    consolidate_after_s: float = Field(default=300.0, ge=0, description="empty node kept for")
    tick_s: float = Field(default=1.0, gt=0, description="autoscaler control period")


@dataclass
class _Node:
    ready_at: float
    launched_at: float
    replicas: set[int] = field(default_factory=set)
    empty_since: float | None = None
    released_at: float | None = None


@dataclass
class SimResult:
    summary: SimSummary
    timeline: list[dict[str, float]]
    """Samples per autoscaler tick: t, replicas (ready), target, nodes, ongoing, cost_usd."""
    recorder: Recorder


class Simulation:
    """One run over ``requests``; :meth:`run` returns the result."""

    def __init__(self, model: ServiceModel, spec: PoolSpec, requests: list[SimRequest]) -> None:
        self.model = model
        self.spec = spec
        self.recorder = Recorder(list(requests))
        self.replicas: dict[int, Replica] = {}
        self.ready: set[int] = set()
        self.node_of: dict[int, int] = {}
        self.nodes: list[_Node] = []
        self.queue: deque[int] = deque()
        self._events: list[tuple[float, int, str, int, int]] = []
        self._seq = itertools.count()
        self._ids = itertools.count()
        self.now = 0.0
        self.timeline: list[dict[str, float]] = []
        self.finished = 0
        self.autoscaler = Autoscaler(spec.autoscaling, spec.tick_s) if spec.autoscaling else None

    # -- events ------------------------------------------------------------------------------
    def _push(self, t: float, kind: str, ident: int = 0, version: int = 0) -> None:
        heapq.heappush(self._events, (t, next(self._seq), kind, ident, version))

    def _schedule(self, rep: Replica) -> None:
        if rep.next_event is not None:
            self._push(rep.next_event, "step", rep.index, rep.version)

    # -- nodes and replicas ------------------------------------------------------------------
    def _place(self, now: float, ready: bool) -> int:
        spec = self.spec
        for i, node in enumerate(self.nodes):
            if node.released_at is None and len(node.replicas) < spec.replicas_per_node:
                return i
        at = now if ready else now + spec.node_provision_s
        self.nodes.append(_Node(ready_at=at, launched_at=now))
        return len(self.nodes) - 1

    def _add_replica(self, now: float, ready: bool = False) -> None:
        rid = next(self._ids)
        rep = Replica(rid, self.model, self.recorder, self._done)
        self.replicas[rid] = rep
        node_i = self._place(now, ready)
        node = self.nodes[node_i]
        node.replicas.add(rid)
        node.empty_since = None
        self.node_of[rid] = node_i
        if ready:
            self.ready.add(rid)
        else:
            self._push(max(node.ready_at, now) + self.spec.model_load_s, "ready", rid)

    def _remove_replica(self, rid: int, now: float) -> None:
        self.ready.discard(rid)
        self.replicas.pop(rid, None)
        node = self.nodes[self.node_of.pop(rid)]
        node.replicas.discard(rid)
        if not node.replicas:
            node.empty_since = now

    def _target(self) -> int:
        return sum(1 for r in self.replicas.values() if not r.draining)

    def _scale_to(self, n: int, now: float) -> None:
        current = self._target()
        for _ in range(n - current):
            self._add_replica(now)
        if n < current:
            # Starting replicas go first (newest first), then the newest ready ones drain.
            live = sorted(
                (r for r in self.replicas.values() if not r.draining),
                key=lambda r: (r.index in self.ready, -r.index),
            )
            for rep in live[: current - n]:
                rep.draining = True
                if rep.index not in self.ready or rep.ongoing == 0:
                    self._remove_replica(rep.index, now)

    # -- routing -----------------------------------------------------------------------------
    def _route(self, rid: int, now: float) -> None:
        limit = self.spec.max_ongoing_requests
        best: Replica | None = None
        for i in sorted(self.ready):
            rep = self.replicas[i]
            if rep.draining or (limit is not None and rep.ongoing >= limit):
                continue
            if best is None or rep.ongoing < best.ongoing:
                best = rep
        if best is None:
            self.queue.append(rid)
        elif best.submit(rid, now):
            self._schedule(best)

    def _drain_queue(self, now: float) -> None:
        while self.queue:
            before = len(self.queue)
            rid = self.queue.popleft()
            self._route(rid, now)
            if len(self.queue) >= before:  # went back: nobody can take it
                self.queue.appendleft(self.queue.pop())
                return

    def _done(self, rep: Replica, rid: int, now: float) -> None:
        self.finished += 1
        if rep.draining:
            if rep.ongoing == 0 and rep.index in self.replicas:
                self._remove_replica(rep.index, now)
            return
        if self.queue:
            self._drain_queue(now)

    # -- the loop ----------------------------------------------------------------------------
    def _ongoing(self) -> int:
        return len(self.queue) + sum(r.ongoing for r in self.replicas.values())

    def _cost(self, now: float) -> float:
        hours = (
            sum(
                ((n.released_at if n.released_at is not None else now) - n.launched_at)
                for n in self.nodes
            )
            / 3600.0
        )
        return hours * self.spec.price_per_node_hour

    def _tick(self, now: float) -> None:
        assert self.autoscaler is not None
        current = self._target()
        target = self.autoscaler.decide(now, current, self._ongoing())
        if target != current:
            self._scale_to(target, now)
        for node in self.nodes:
            if (
                node.released_at is None
                and node.empty_since is not None
                and now - node.empty_since >= self.spec.consolidate_after_s
            ):
                node.released_at = now
        self.timeline.append(
            {
                "t": now,
                "replicas": float(len(self.ready)),
                "target": float(self._target()),
                "nodes": float(sum(1 for n in self.nodes if n.released_at is None)),
                "ongoing": float(self._ongoing()),
                "cost_usd": self._cost(now),
            }
        )

    def run(self, slo: Slo | None = None, warmup: int = 0) -> SimResult:
        spec = self.spec
        start = spec.autoscaling.start_replicas if spec.autoscaling else spec.replicas
        for _ in range(start):
            self._add_replica(0.0, ready=True)
        for i, req in enumerate(self.recorder.requests):
            self._push(req.arrival, "arrive", i)
        last_arrival = self.recorder.requests[-1].arrival if self.recorder.requests else 0.0
        if self.autoscaler:
            self._push(0.0, "tick")
        left = len(self.recorder.requests)
        while self._events and left > 0:
            t, _, kind, ident, version = heapq.heappop(self._events)
            self.now = t
            if kind == "arrive":
                self._route(ident, t)
            elif kind == "step":
                rep = self.replicas.get(ident)
                if rep is None or rep.version != version:
                    continue
                rep.step_end(t)
                self._schedule(rep)
                left = len(self.recorder.requests) - self.finished
            elif kind == "ready":
                if ident in self.replicas:
                    self.ready.add(ident)
                    self._drain_queue(t)
            elif kind == "tick":
                self._tick(t)
                if t < last_arrival or left > 0:
                    self._push(t + spec.tick_s, "tick")
        summary = summarize(self.recorder, self._cost(self.now), self.now, slo, warmup)
        return SimResult(summary=summary, timeline=self.timeline, recorder=self.recorder)


def simulate(
    model: ServiceModel,
    spec: PoolSpec,
    requests: list[SimRequest],
    slo: Slo | None = None,
    warmup: int = 0,
) -> SimResult:
    """Run ``requests`` through a pool built as ``spec`` of replicas modelled by ``model``."""
    return Simulation(model, spec, requests).run(slo, warmup)
