"""The simulator on cases with exact answers: step timing, batching, queueing, routing,
autoscaling with node provisioning and model load, cost."""

from __future__ import annotations

import pytest

from inferstack.plan.autoscaling import AutoscalingConfig
from inferstack.plan.profiles import Profile
from inferstack.plan.service import ServiceModel
from inferstack.plan.simulator import PoolSpec, simulate
from inferstack.plan.workload import SimRequest, Slo


def test_one_request_alone(toy: Profile) -> None:
    r = simulate(ServiceModel(toy), PoolSpec(), [SimRequest(1.0, 10, 5)])
    rec = r.recorder
    assert rec.first_token[0] == pytest.approx(1.030)  # 20 ms step + 10 ms prefill
    assert rec.finish[0] == pytest.approx(1.030 + 4 * 0.020)
    assert r.summary.itl_p50_ms == pytest.approx(20.0)
    assert r.summary.output_tok_per_s == pytest.approx(5 / 0.110)


def test_two_requests_share_steps(toy: Profile) -> None:
    m = ServiceModel(toy)
    r = simulate(m, PoolSpec(), [SimRequest(0.0, 10, 3), SimRequest(0.0, 10, 3)])
    rec = r.recorder
    # The first starts a step alone; the second's prompt rides on the next step, which also
    # decodes the first: step(2) + 10 prompt tokens; then both decode together.
    assert rec.first_token[0] == pytest.approx(0.030)
    joint = m.step_s(2)
    assert rec.first_token[1] == pytest.approx(0.030 + joint + 0.010)
    assert rec.finish[0] == pytest.approx(rec.first_token[1] + joint)
    assert rec.finish[1] == pytest.approx(rec.first_token[1] + joint + m.step_s(1))


def test_an_arrival_joins_at_the_next_step_boundary(toy: Profile) -> None:
    m = ServiceModel(toy)
    r = simulate(m, PoolSpec(), [SimRequest(0.0, 10, 20), SimRequest(0.105, 10, 2)])
    rec = r.recorder
    # Request 0: first token at 30 ms, then 20 ms steps at 50, 70, 90, 110 ms. Request 1
    # arrives at 105 ms, joins the step starting at 110 ms (2 sequences + 10 prompt tokens).
    assert rec.first_token[1] == pytest.approx(0.110 + m.step_s(2) + 0.010)
    assert rec.first_token[1] - 0.105 == pytest.approx(0.005 + m.step_s(2) + 0.010)
    tokens_0_by_110ms = 1 + 4
    remaining = 20 - tokens_0_by_110ms - 1  # one more with the joint step
    assert rec.finish[1] == pytest.approx(rec.first_token[1] + m.step_s(2))
    assert rec.finish[0] == pytest.approx(rec.finish[1] + (remaining - 1) * m.step_s(1))


def test_requests_beyond_the_slots_wait(toy: Profile) -> None:
    one_slot = toy.model_copy(update={"parallel": 1})
    r = simulate(ServiceModel(one_slot), PoolSpec(), [SimRequest(0, 10, 2), SimRequest(0, 10, 2)])
    rec = r.recorder
    assert rec.finish[0] == pytest.approx(0.050)
    assert rec.first_token[1] == pytest.approx(0.050 + 0.030)


def test_router_picks_the_least_loaded_replica_and_respects_max_ongoing(toy: Profile) -> None:
    m = ServiceModel(toy)
    reqs = [SimRequest(0, 10, 50) for _ in range(3)]
    spread = simulate(m, PoolSpec(replicas=3), reqs).recorder
    assert spread.first_token == [pytest.approx(0.030)] * 3  # one each, all alone
    capped = simulate(m, PoolSpec(replicas=1, max_ongoing_requests=1), reqs).recorder
    assert capped.first_token[1] == pytest.approx(capped.finish[0] + 0.030)


def test_autoscaling_waits_for_delay_node_and_model_load(toy: Profile) -> None:
    m = ServiceModel(toy)
    auto = AutoscalingConfig(
        min_replicas=1,
        max_replicas=2,
        target_ongoing_requests=1,
        upscale_delay_s=5,
        downscale_delay_s=1000,
        look_back_period_s=1,
    )
    spec = PoolSpec(
        autoscaling=auto,
        node_provision_s=60,
        model_load_s=30,
        price_per_node_hour=3600.0,
        consolidate_after_s=0,
    )
    # Two long requests at once: desired 2 from the first tick; the change comes after 5 ticks
    # of wanting it; the new node is ready 60 s later and the replica 30 s after that.
    reqs = [SimRequest(0.0, 10, 4000), SimRequest(0.0, 10, 4000), SimRequest(100.0, 10, 10)]
    r = simulate(m, spec, reqs)
    line = {s["t"]: s for s in r.timeline}
    assert line[4.0]["target"] == 1 and line[5.0]["target"] == 2
    assert line[5.0]["nodes"] == 2 and line[94.0]["replicas"] == 1
    assert line[96.0]["replicas"] == 2
    assert r.recorder.first_token[2] == pytest.approx(100.030)  # the new, idle replica
    # Nodes are paid from launch: node 1 for the whole run, node 2 from t = 5 s.
    end = max(r.recorder.finish)
    assert r.summary.cost_usd == pytest.approx(end + (end - 5.0))


def test_scale_from_zero_is_immediate(toy: Profile) -> None:
    auto = AutoscalingConfig(min_replicas=0, max_replicas=1, target_ongoing_requests=1)
    spec = PoolSpec(autoscaling=auto, node_provision_s=10, model_load_s=5)
    r = simulate(ServiceModel(toy), spec, [SimRequest(0.5, 10, 2)])
    # Tick at 1 s sees the queued request and starts a node (10 s) and a replica (5 s).
    assert r.recorder.first_token[0] == pytest.approx(16.030)


def test_slo_attainment_counts_both_limits(toy: Profile) -> None:
    m = ServiceModel(toy)
    reqs = [SimRequest(0, 10, 3), SimRequest(0, 10, 3)]
    assert simulate(m, PoolSpec(), reqs, Slo(ttft_ms=1000, itl_ms=35)).summary.slo_attainment == 1.0
    assert simulate(m, PoolSpec(), reqs, Slo(ttft_ms=20, itl_ms=35)).summary.slo_attainment == 0.0


def test_the_step_that_wakes_an_idle_replica_pays_the_wake_up(toy: Profile) -> None:
    m = ServiceModel(toy.model_copy(update={"wake_ms": 15.0, "wake_pause_s": 1.0}))
    reqs = [SimRequest(1.0, 10, 2), SimRequest(2.0, 10, 2), SimRequest(2.100, 10, 2)]
    rec = simulate(m, PoolSpec(), reqs).recorder
    # Idle since the start, then idle for 0.95 s: both wake it (20 ms step + 10 ms prefill +
    # 15 ms); the third arrives while the second runs and joins at a step boundary, no wake.
    assert rec.first_token[0] == pytest.approx(1.045)
    assert rec.finish[0] == pytest.approx(1.065)
    assert rec.first_token[1] == pytest.approx(2.045)
    assert rec.finish[1] == pytest.approx(2.065)
    assert rec.first_token[2] == pytest.approx(2.100 + 0.030)  # idle only 35 ms: no wake-up


def test_a_request_joining_a_busy_replica_pays_no_wake_up(toy: Profile) -> None:
    m = ServiceModel(toy.model_copy(update={"wake_ms": 15.0}))
    rec = simulate(m, PoolSpec(), [SimRequest(0.0, 10, 20), SimRequest(0.100, 10, 2)]).recorder
    # Request 0 wakes the replica: first token at 45 ms, then 20 ms steps end at 65, 85, 105
    # ms. Request 1 arrives at 100 ms and rides on the step from 105 ms: 2 sequences + 10
    # prompt tokens, no wake-up (the replica was busy).
    assert rec.first_token[0] == pytest.approx(0.045)
    assert rec.first_token[1] == pytest.approx(0.105 + m.step_s(2) + 0.010)


def test_a_profile_without_a_wake_up_measurement_changes_nothing(toy: Profile) -> None:
    m = ServiceModel(toy)
    assert m.wake_s == 0.0
    rec = simulate(m, PoolSpec(), [SimRequest(1.0, 10, 5)]).recorder
    assert rec.first_token[0] == pytest.approx(1.030)
