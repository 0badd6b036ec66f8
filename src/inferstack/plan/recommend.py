"""Recommending a Ray Serve ``autoscaling_config``: replay a trace through the simulator under
a grid of settings and keep the cheapest that meets the SLO."""

from __future__ import annotations

import itertools

from pydantic import BaseModel

from inferstack.plan.autoscaling import AutoscalingConfig
from inferstack.plan.service import ServiceModel
from inferstack.plan.simulator import PoolSpec, SimResult, simulate
from inferstack.plan.stats import SimSummary
from inferstack.plan.workload import SimRequest, Slo

__all__ = ["Candidate", "recommend_autoscaling"]


class Candidate(BaseModel):
    config: AutoscalingConfig
    summary: SimSummary
    meets_slo: bool


def recommend_autoscaling(
    model: ServiceModel,
    base: PoolSpec,
    requests: list[SimRequest],
    slo: Slo,
    max_replicas: int,
    targets: list[float] | None = None,
    min_replicas: tuple[int, ...] = (0, 1, 2),
    upscale_delays: tuple[float, ...] | None = None,
) -> tuple[Candidate | None, list[Candidate]]:
    """The cheapest candidate meeting ``slo`` (None if none does) and every candidate tried.

    The grid: ``min_replicas`` x ``targets`` (default: a quarter, half, one and two times the
    slots) x ``upscale_delays`` (default: the template's and 5 s). The downscale delay and the
    look-back come from ``base.autoscaling`` (Ray Serve's defaults without it).
    """
    template = base.autoscaling or AutoscalingConfig()
    slots = model.slots
    grid = targets or sorted({max(1, slots // 4), max(1, slots // 2), slots, slots * 2})
    delays = upscale_delays or tuple(sorted({template.upscale_delay_s, 5.0}))
    tried: list[Candidate] = []
    for low, target, delay in itertools.product(min_replicas, grid, delays):
        if low > max_replicas:
            continue
        config = template.model_copy(
            update=dict(
                min_replicas=low,
                max_replicas=max_replicas,
                target_ongoing_requests=target,
                upscale_delay_s=delay,
                initial_replicas=None,
            )
        )
        spec = base.model_copy(update=dict(autoscaling=config))
        result: SimResult = simulate(model, spec, requests, slo)
        attained = result.summary.slo_attainment or 0.0
        tried.append(
            Candidate(config=config, summary=result.summary, meets_slo=attained >= slo.attainment)
        )
    ok = [c for c in tried if c.meets_slo]
    best = min(ok, key=lambda c: c.summary.cost_usd) if ok else None
    return best, tried
