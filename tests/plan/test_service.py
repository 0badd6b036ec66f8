"""Step times and prefill cost derived from a profile."""

from __future__ import annotations

import pytest

from inferstack.plan.profiles import Profile, ProfileError
from inferstack.plan.service import ServiceModel
from plan.toys import make_profile


def test_step_time_interpolates_and_stays_flat_in_throughput_beyond(toy: Profile) -> None:
    m = ServiceModel(toy)
    assert m.step_s(1) == pytest.approx(0.020)
    assert m.step_s(2) == pytest.approx(0.020 + (0.040 - 0.020) / 3)
    assert m.step_s(6) == pytest.approx(0.060)
    assert m.step_s(16) == pytest.approx(0.160)  # 8 sequences per 80 ms: 100 tok/s
    assert m.capacity_tok_per_s() == pytest.approx(100.0)
    with pytest.raises(ProfileError):
        m.step_s(0)


def test_prefill_cost_from_single_stream_ttft(toy: Profile) -> None:
    m = ServiceModel(toy)
    # TTFT(1) 30 ms = one 20 ms step + 10 prompt tokens x 1 ms
    assert m.prefill_s_per_token == pytest.approx(0.001)
    assert m.prefill_s(10, 1) == pytest.approx(0.010)


def test_prefill_rate_wins_and_unknown_prompt_length_is_a_fixed_cost() -> None:
    rate = make_profile(
        points=[{"concurrency": 1, "decode_tok_per_s": 50, "prefill_tok_per_s": 500}]
    )
    assert ServiceModel(rate).prefill_s_per_token == pytest.approx(0.002)
    fixed = make_profile(mean_prompt_tokens=None)
    m = ServiceModel(fixed)
    assert m.prefill_s_per_token == 0 and m.prefill_fixed_s == pytest.approx(0.010)
    assert m.prefill_s(500, 2) == pytest.approx(0.020)
