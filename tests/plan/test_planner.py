"""The planner: replica capacity, pool size and cost, the cheapest option, the crossover."""

from __future__ import annotations

import math

import pytest

from inferstack.plan.planner import crossover, plan_pool, pool_options, replica_capacity
from inferstack.plan.prices import Capacity, load_prices
from inferstack.plan.profiles import Profile
from inferstack.plan.workload import Length, Slo
from plan.toys import make_profile

PROMPT, OUTPUT = Length(kind="fixed", a=10), Length(kind="fixed", a=50)


def test_capacity_shrinks_with_a_tighter_slo(toy: Profile) -> None:
    loose = replica_capacity(toy, PROMPT, OUTPUT, Slo(ttft_ms=5000, itl_ms=200))
    tight = replica_capacity(toy, PROMPT, OUTPUT, Slo(ttft_ms=5000, itl_ms=45))
    assert 0 < tight < loose <= 100 / 50  # never above what the slots decode (2 req/s)
    assert replica_capacity(toy, PROMPT, OUTPUT, Slo(itl_ms=10)) == 0.0


def test_pool_size_cost_and_idle_minimum(toy: Profile) -> None:
    slo = Slo(ttft_ms=5000, itl_ms=200)
    (option,) = pool_options([toy], load_prices(), min_replicas=2)
    cap = replica_capacity(toy, PROMPT, OUTPUT, slo)
    busy = plan_pool(option, 3 * cap * 0.99, PROMPT, OUTPUT, slo)
    assert busy.feasible and busy.replicas >= 3 and busy.slo_attainment >= 0.95
    assert busy.usd_per_hour == pytest.approx(busy.nodes * 0.15952)
    rate = 3 * cap * 0.99
    assert busy.usd_per_million_output_tokens == pytest.approx(
        busy.usd_per_hour / (rate * 50 * 3600) * 1e6
    )
    idle = plan_pool(option, 0.001, PROMPT, OUTPUT, slo)
    assert idle.replicas == 2 and idle.utilisation < 0.01  # the minimum is paid for anyway
    assert idle.usd_per_million_output_tokens > 100 * busy.usd_per_million_output_tokens


def test_an_unpriced_or_infeasible_pool_says_why(toy: Profile) -> None:
    slo = Slo(ttft_ms=5000, itl_ms=200)
    (unpriced,) = pool_options([toy.model_copy(update={"instance": None})], load_prices())
    plan = plan_pool(unpriced, 0.5, PROMPT, OUTPUT, slo, verify=False)
    assert plan.feasible and plan.usd_per_hour is None and "no price" in plan.reason
    (option,) = pool_options([toy], load_prices())
    bad = plan_pool(option, 0.5, PROMPT, OUTPUT, Slo(itl_ms=10))
    assert not bad.feasible and "misses the SLO" in bad.reason


def test_spot_and_instance_override(toy: Profile) -> None:
    table = load_prices()
    (spot,) = pool_options([toy], table, Capacity.SPOT, {"toy": "c8g.4xlarge:4"})
    assert spot.instance == "c8g.4xlarge" and spot.replicas_per_node == 4
    assert spot.price_per_node_hour == pytest.approx(table.hourly("c8g.4xlarge", Capacity.SPOT))
    assert spot.name.endswith("(spot)")


def test_crossover_of_a_cheap_small_and_a_dear_big_pool() -> None:
    """CPU: $0.1/h, 1 req/s per replica; GPU: $1/h, 40 req/s per replica (loose SLO).

    CPU costs 0.1 x ceil(rate); GPU costs 1 x ceil(rate / 40): the GPU is cheaper once
    ceil(rate) > 10, i.e. just above 10 req/s."""
    slo = Slo(ttft_ms=60_000, itl_ms=10_000, attainment=0.5)
    out = Length(kind="fixed", a=10)
    cpu = make_profile(
        name="cpu",
        instance="cheap.box",
        parallel=1,
        points=[{"concurrency": 1, "decode_tok_per_s": 10, "itl_ms": 100}],
    )
    gpu = make_profile(
        name="gpu",
        hardware="gpu",
        instance="dear.box",
        parallel=64,
        points=[
            {"concurrency": 1, "decode_tok_per_s": 100, "itl_ms": 10},
            {"concurrency": 64, "decode_tok_per_s": 400, "itl_ms": 160},
        ],
    )
    table = load_prices().merged(
        {
            "instances": {
                "cheap.box": {"vcpus": 2, "on_demand": 0.1},
                "dear.box": {"vcpus": 8, "on_demand": 1.0},
            }
        }
    )
    options = pool_options([cpu, gpu], table)
    cap_cpu = replica_capacity(cpu, PROMPT, out, slo)
    cap_gpu = replica_capacity(gpu, PROMPT, out, slo)
    points, cross = crossover(options, [0.5, 5, 50], PROMPT, out, slo)
    assert points[0].cpu_pool and points[0].cpu_usd_per_million < points[0].gpu_usd_per_million
    assert points[2].gpu_usd_per_million < points[2].cpu_usd_per_million
    # Expected: the lowest rate where 1.0 * ceil(r / cap_gpu) <= 0.1 * ceil(r / cap_cpu).
    expected = next(
        r / 1000
        for r in range(500, 50_000)
        if math.ceil(r / 1000 / cap_gpu) <= 0.1 * math.ceil(r / 1000 / cap_cpu)
    )
    assert cross == pytest.approx(expected, rel=0.01)
