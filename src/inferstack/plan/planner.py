"""The planner: for a steady load, how many replicas each pool option needs to meet the SLO,
what that costs per hour and per 1M output tokens (idle capacity and minimum replicas
included), which option is cheapest, and the load at which a GPU pool becomes cheaper than a
CPU pool.

A replica's capacity is the highest Poisson request rate at which one replica, simulated with
the profile's batched step times, still meets the SLO; a pool of ``n`` replicas behind a
least-loaded router is then simulated at the full rate to check and report attainment.
"""

from __future__ import annotations

import math
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field

from inferstack.plan.prices import Capacity, PriceError, PriceTable
from inferstack.plan.profiles import Profile
from inferstack.plan.service import ServiceModel
from inferstack.plan.simulator import PoolSpec, simulate
from inferstack.plan.workload import Length, Slo, poisson_offsets, synthetic_requests

__all__ = [
    "LoadPoint",
    "PoolOption",
    "PoolPlan",
    "crossover",
    "plan_pool",
    "pool_options",
    "replica_capacity",
]

CAPACITY_REQUESTS = 300
VERIFY_REQUESTS = 600


class PoolOption(BaseModel):
    """A profile on an instance type, bought as on-demand or spot."""

    model_config = ConfigDict(frozen=True)

    name: str
    profile: Profile
    instance: str | None
    capacity: Capacity = Capacity.ON_DEMAND
    price_per_node_hour: float | None = Field(description="None when the instance has no price")
    replicas_per_node: int = 1
    min_replicas: int = 1

    @property
    def hardware(self) -> str:
        return self.profile.hardware


def pool_options(
    profiles: list[Profile],
    prices: PriceTable,
    capacity: Capacity = Capacity.ON_DEMAND,
    overrides: dict[str, str] | None = None,
    min_replicas: int = 1,
) -> list[PoolOption]:
    """One option per profile, on its own instance or the one ``overrides[profile]`` names
    (``INSTANCE`` or ``INSTANCE:N`` for N replicas per node)."""
    out = []
    for profile in profiles:
        instance, per_node = profile.instance, profile.replicas_per_instance
        if profile.hardware == "gpu":
            per_node = profile.accelerators_per_instance
        spec = (overrides or {}).get(profile.name)
        if spec:
            instance, _, n = spec.partition(":")
            if (n and not n.isdigit()) or n == "0":
                raise PriceError(f"--pool {profile.name}={spec}: N in INSTANCE:N is a count > 0")
            per_node = int(n) if n else 1
        price = None
        if instance is not None:
            try:
                price = prices.hourly(instance, capacity)
            except PriceError:
                price = None
        suffix = "" if capacity is Capacity.ON_DEMAND else " (spot)"
        out.append(
            PoolOption(
                name=f"{profile.name} @ {instance or 'unpriced'}{suffix}",
                profile=profile,
                instance=instance,
                capacity=capacity,
                price_per_node_hour=price,
                replicas_per_node=per_node,
                min_replicas=min_replicas,
            )
        )
    return out


def _requests(rate: float, count: int, prompt: Length, output: Length, seed: int) -> list:
    return synthetic_requests(poisson_offsets(rate, count, None, seed), prompt, output, seed)


@lru_cache(maxsize=256)
def _capacity(profile_json: str, prompt: Length, output: Length, slo: Slo, seed: int) -> float:
    model = ServiceModel(Profile.model_validate_json(profile_json))
    warm = CAPACITY_REQUESTS // 10

    def meets(rate: float) -> bool:
        reqs = _requests(rate, CAPACITY_REQUESTS, prompt, output, seed)
        s = simulate(model, PoolSpec(replicas=1), reqs, slo, warmup=warm).summary
        return (s.slo_attainment or 0.0) >= slo.attainment

    # Never above what the slots can decode: a short run would hide a slowly growing queue.
    hi = model.capacity_tok_per_s() / output.mean
    lo = hi / 1e4
    if not meets(lo):
        return 0.0
    for _ in range(14):
        mid = math.sqrt(lo * hi) if hi / lo > 4 else (lo + hi) / 2
        lo, hi = (mid, hi) if meets(mid) else (lo, mid)
    return lo


def replica_capacity(
    profile: Profile, prompt: Length, output: Length, slo: Slo, seed: int = 0
) -> float:
    """Requests per second one replica serves within the SLO (0: not even a trickle)."""
    return _capacity(profile.model_dump_json(), prompt, output, slo, seed)


class PoolPlan(BaseModel):
    """The plan for one pool option at one load."""

    pool: str
    profile: str
    model: str
    hardware: str
    instance: str | None
    capacity: str
    feasible: bool
    reason: str = ""
    replica_capacity_rps: float
    replicas: int = 0
    nodes: int = 0
    utilisation: float | None = None
    slo_attainment: float | None = None
    ttft_p99_ms: float | None = None
    itl_p50_ms: float | None = None
    usd_per_hour: float | None = None
    usd_per_million_output_tokens: float | None = None
    missing: list[str] = Field(default_factory=list)
    source: str = ""


def _cost(
    option: PoolOption, replicas: int, rate: float, output: Length
) -> tuple[int, float | None, float | None]:
    nodes = math.ceil(replicas / option.replicas_per_node)
    if option.price_per_node_hour is None:
        return nodes, None, None
    usd_h = nodes * option.price_per_node_hour
    return nodes, usd_h, usd_h / (rate * output.mean * 3600.0) * 1e6


def plan_pool(
    option: PoolOption,
    rate: float,
    prompt: Length,
    output: Length,
    slo: Slo,
    verify: bool = True,
    seed: int = 0,
) -> PoolPlan:
    """Replicas, attainment and cost of ``option`` serving ``rate`` requests per second."""
    profile = option.profile
    cap = replica_capacity(profile, prompt, output, slo, seed)
    base = PoolPlan(
        pool=option.name,
        profile=profile.name,
        model=profile.model,
        hardware=profile.hardware,
        instance=option.instance,
        capacity=option.capacity.value,
        feasible=False,
        replica_capacity_rps=cap,
        missing=profile.missing(),
        source=profile.source.reference,
    )
    if cap <= 0:
        base.reason = f"one replica misses the SLO ({slo}) even at a trickle"
        return base
    replicas = max(option.min_replicas, math.ceil(rate / cap))
    attainment = ttft99 = itl50 = None
    if verify:
        model = ServiceModel(profile)
        count = min(max(VERIFY_REQUESTS, int(rate * 60)), 4000)
        for _ in range(4):
            reqs = _requests(rate, count, prompt, output, seed + 7)
            s = simulate(model, PoolSpec(replicas=replicas), reqs, slo, warmup=count // 10).summary
            attainment, ttft99, itl50 = s.slo_attainment, s.ttft_p99_ms, s.itl_p50_ms
            if (attainment or 0.0) >= slo.attainment:
                break
            replicas += 1
    nodes, usd_h, per_m = _cost(option, replicas, rate, output)
    return base.model_copy(
        update=dict(
            feasible=True,
            replicas=replicas,
            nodes=nodes,
            utilisation=rate / (replicas * cap),
            slo_attainment=attainment,
            ttft_p99_ms=ttft99,
            itl_p50_ms=itl50,
            usd_per_hour=usd_h,
            usd_per_million_output_tokens=per_m,
            reason="" if usd_h is not None else "no price for the instance",
        )
    )


class LoadPoint(BaseModel):
    rate: float
    cpu_usd_per_million: float | None
    cpu_pool: str | None
    gpu_usd_per_million: float | None
    gpu_pool: str | None


def _best(
    options: list[PoolOption], rate: float, prompt: Length, output: Length, slo: Slo
) -> tuple[float | None, str | None]:
    best: tuple[float | None, str | None] = (None, None)
    for option in options:
        cap = replica_capacity(option.profile, prompt, output, slo)
        if cap <= 0 or option.price_per_node_hour is None:
            continue
        replicas = max(option.min_replicas, math.ceil(rate / cap))
        per_m = _cost(option, replicas, rate, output)[2]
        if per_m is not None and (best[0] is None or per_m < best[0]):
            best = (per_m, option.name)
    return best


def crossover(
    options: list[PoolOption],
    rates: list[float],
    prompt: Length,
    output: Length,
    slo: Slo,
) -> tuple[list[LoadPoint], float | None]:
    """$/1M output tokens of the cheapest CPU and GPU option per rate, and the lowest rate at
    which the GPU option costs no more than the CPU one (None: never within ``rates``)."""
    cpu = [o for o in options if o.hardware == "cpu"]
    gpu = [o for o in options if o.hardware == "gpu"]
    points = []
    for rate in rates:
        c, cn = _best(cpu, rate, prompt, output, slo)
        g, gn = _best(gpu, rate, prompt, output, slo)
        points.append(
            LoadPoint(
                rate=rate, cpu_usd_per_million=c, cpu_pool=cn, gpu_usd_per_million=g, gpu_pool=gn
            )
        )

    def gpu_wins(rate: float) -> bool | None:
        c = _best(cpu, rate, prompt, output, slo)[0]
        g = _best(gpu, rate, prompt, output, slo)[0]
        if c is None or g is None:
            return None
        return g <= c

    prev = None
    for point in points:
        wins = gpu_wins(point.rate)
        if wins:
            if prev is None:
                return points, point.rate
            lo, hi = prev, point.rate
            for _ in range(30):
                mid = (lo + hi) / 2
                lo, hi = (lo, mid) if gpu_wins(mid) else (mid, hi)
            return points, hi
        prev = point.rate if wins is False else None
    return points, None
