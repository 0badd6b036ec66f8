"""Ray Serve's default autoscaling decision, tick by tick."""

from __future__ import annotations

import pytest

from inferstack.plan.autoscaling import Autoscaler, AutoscalingConfig


def test_upscale_after_the_delay_to_ongoing_over_target() -> None:
    a = Autoscaler(
        AutoscalingConfig(
            min_replicas=1,
            max_replicas=10,
            target_ongoing_requests=4,
            upscale_delay_s=3,
            look_back_period_s=1,
        )
    )
    decisions = [a.decide(float(t), 1, 20) for t in range(5)]
    assert decisions == [1, 1, 1, 5, 1]  # wanted for more than 3 s, then ceil(20 / 4)


def test_clamped_to_max_and_min() -> None:
    cfg = AutoscalingConfig(
        min_replicas=2,
        max_replicas=3,
        target_ongoing_requests=1,
        upscale_delay_s=0,
        downscale_delay_s=0,
        look_back_period_s=1,
    )
    assert Autoscaler(cfg).decide(0.0, 2, 100) == 3
    assert Autoscaler(cfg).decide(0.0, 3, 0) == 2


def test_a_dip_resets_the_downscale_counter() -> None:
    a = Autoscaler(
        AutoscalingConfig(
            min_replicas=1,
            max_replicas=4,
            target_ongoing_requests=1,
            downscale_delay_s=2,
            look_back_period_s=0.5,
        )
    )
    assert [a.decide(0.0, 4, 1), a.decide(1.0, 4, 1), a.decide(2.0, 4, 4)] == [4, 4, 4]
    assert [a.decide(3.0, 4, 1), a.decide(4.0, 4, 1), a.decide(5.0, 4, 1)] == [4, 4, 1]


def test_look_back_averages_ongoing_requests() -> None:
    a = Autoscaler(
        AutoscalingConfig(
            min_replicas=1,
            max_replicas=10,
            target_ongoing_requests=1,
            upscale_delay_s=0,
            look_back_period_s=10,
        )
    )
    a.decide(0.0, 1, 0)
    assert a.decide(1.0, 1, 6) == 3  # mean of 0 and 6


def test_chart_values_round_trip() -> None:
    raw = {
        "min_replicas": 1,
        "max_replicas": 8,
        "target_ongoing_requests": 6,
        "upscale_delay_s": 30,
        "downscale_delay_s": 300,
    }
    assert AutoscalingConfig.model_validate(raw).chart_values() == raw
    with pytest.raises(ValueError):
        AutoscalingConfig.model_validate({**raw, "min_replicas": 9})
    with pytest.raises(ValueError):
        AutoscalingConfig.model_validate({**raw, "target_ongoing_request": 6})
