"""The simulator against a small recorded run of the real server (committed data, no timing):
``bash docs/plan/measure.sh`` measured a profile (closed loop) and three open-loop rates of the
default model on the shared 2-core CI machine; the simulator replays the same arrivals."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferstack.plan.profiles import Profile, load_profile
from inferstack.plan.validate import compare_run, load_bench_result

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def rows():  # type: ignore[no-untyped-def]
    profile = load_profile(DATA / "profile.yaml")
    return compare_run(profile, load_bench_result(DATA / "open-loop-results.json"))


def test_every_rate_is_replayed_with_the_benchs_arrivals(rows) -> None:  # type: ignore[no-untyped-def]
    assert [r.rate for r in rows] == [0.168, 0.335, 0.503]
    assert all(r.requests == 24 for r in rows)


def test_throughput_within_15_percent_at_every_rate(rows) -> None:  # type: ignore[no-untyped-def]
    for r in rows:
        assert abs(r.error["output_tok_per_s"]) <= 0.15, r


def test_light_load_latency_within_15_percent(rows) -> None:  # type: ignore[no-untyped-def]
    light = rows[0]
    for metric in ("ttft_p50_ms", "ttft_p99_ms", "itl_p50_ms"):
        assert abs(light.error[metric]) <= 0.15, (metric, light)


# A second recorded run (docs/planning.md, run 6): `REPEAT=1 REQUESTS=16 bash docs/plan/measure.sh`
# on 2026-12-01 at 22:52 UTC, whose profile carries the measured wake-up cost (wake.txt).
WAKE = DATA / "wake"


@pytest.fixture(scope="module")
def wake_profile() -> Profile:
    return load_profile(WAKE / "profile.yaml")


@pytest.fixture(scope="module")
def wake_result():  # type: ignore[no-untyped-def]
    return load_bench_result(WAKE / "open-loop-results.json")


def test_the_recorded_wake_up_is_the_measured_one(wake_profile: Profile) -> None:
    # wake.txt: TTFT p50 88.7 ms after 1 s idle, 74.6 ms right after another request.
    assert wake_profile.wake_ms == pytest.approx(88.7 - 74.6, abs=0.1)
    assert wake_profile.wake_pause_s == 1.0


def test_with_the_wake_up_light_load_ttft_p50_is_within_15_percent(
    wake_profile: Profile,
    wake_result,  # type: ignore[no-untyped-def]
) -> None:
    light = compare_run(wake_profile, wake_result)[0]
    assert abs(light.error["ttft_p50_ms"]) <= 0.15, light
    # The same replay without it predicts the lone request's TTFT of a busy server.
    plain = compare_run(wake_profile.model_copy(update={"wake_ms": None}), wake_result)[0]
    assert plain.error["ttft_p50_ms"] < -0.15, plain
    assert light.predicted["ttft_p50_ms"] > plain.predicted["ttft_p50_ms"]


def test_throughput_of_the_second_run_within_15_percent(
    wake_profile: Profile,
    wake_result,  # type: ignore[no-untyped-def]
) -> None:
    rows = compare_run(wake_profile, wake_result)
    assert [r.rate for r in rows] == [0.774, 1.55, 2.32]
    for r in rows:
        assert abs(r.error["output_tok_per_s"]) <= 0.15, r


def test_an_open_loop_run_is_required(tmp_path: Path) -> None:
    closed = tmp_path / "closed.json"
    closed.write_text('{"config": {"mode": "closed"}}')
    with pytest.raises(ValueError, match="not an open-loop run"):
        load_bench_result(closed)
