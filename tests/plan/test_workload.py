"""Workloads: length distributions, Poisson arrivals like the bench's, traces from files."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from inferstack.bench.levels import poisson_arrivals
from inferstack.plan.planner import pool_options
from inferstack.plan.prices import PriceError, load_prices
from inferstack.plan.profiles import Profile
from inferstack.plan.workload import (
    WorkloadError,
    load_trace,
    parse_length,
    poisson_offsets,
)


def test_length_distributions() -> None:
    rng = random.Random(0)
    assert parse_length("128").sample(rng) == 128
    assert parse_length("fixed:64").mean == 64
    uniform = parse_length("uniform:10-20")
    assert uniform.mean == 15 and all(10 <= uniform.sample(rng) <= 20 for _ in range(100))
    logn = parse_length("lognormal:200,0.5")
    draws = [logn.sample(rng) for _ in range(4000)]
    assert sum(draws) / len(draws) == pytest.approx(200, rel=0.05)
    assert str(uniform) == "uniform:10-20" and str(logn) == "lognormal:200,0.5"
    for bad in ("gauss:3", "uniform:9-3", "0", "lognormal:5"):
        with pytest.raises(WorkloadError):
            parse_length(bad)


def test_arrivals_are_the_benchs() -> None:
    """The simulator replays a bench run only if it draws the same arrivals."""
    assert poisson_offsets(0.7, 50, None, 1234) == poisson_arrivals(0.7, 50, None, 1234)
    assert poisson_offsets(2.0, None, 10.0, 5) == poisson_arrivals(2.0, None, 10.0, 5)


def test_traces_from_csv_and_jsonl(tmp_path: Path) -> None:
    csv_file = tmp_path / "t.csv"
    csv_file.write_text("arrival_s,prompt_tokens,output_tokens\n12.5,10,\n10.0,5,7\n")
    reqs = load_trace(csv_file, parse_length("3"), parse_length("9"))
    assert [(r.arrival, r.prompt_tokens, r.output_tokens) for r in reqs] == [
        (0.0, 5, 7),
        (2.5, 10, 9),
    ]
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text("\n".join(json.dumps({"arrival_s": t}) for t in (1, 2, 4)) + "\n")
    assert [r.arrival for r in load_trace(jsonl, parse_length("3"), parse_length("9"))] == [0, 1, 3]
    (tmp_path / "bad.csv").write_text("when\nsoon\n")
    with pytest.raises(WorkloadError, match="arrival_s"):
        load_trace(tmp_path / "bad.csv", parse_length("3"), parse_length("9"))


def test_a_bad_pool_count_is_a_clear_error(toy: Profile) -> None:
    with pytest.raises(PriceError, match="INSTANCE:N"):
        pool_options([toy], load_prices(), overrides={"toy": "c8g.xlarge:four"})
