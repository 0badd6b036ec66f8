"""The simulator against a small recorded run of the real server (committed data, no timing):
``bash docs/plan/measure.sh`` measured a profile (closed loop) and three open-loop rates of the
default model on the shared 2-core CI machine; the simulator replays the same arrivals."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferstack.plan.profiles import load_profile
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


def test_an_open_loop_run_is_required(tmp_path: Path) -> None:
    closed = tmp_path / "closed.json"
    closed.write_text('{"config": {"mode": "closed"}}')
    with pytest.raises(ValueError, match="not an open-loop run"):
        load_bench_result(closed)
