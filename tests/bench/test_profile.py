"""``inferstack bench --profile``: a throughput profile from a closed-loop result."""

from __future__ import annotations

import pytest

from inferstack.bench.profile import profile_from_result
from inferstack.bench.records import RequestRecord, TokenSource
from inferstack.bench.results import BenchResult, LevelResult, TargetResult
from inferstack.bench.settings import LoopMode, RunConfig
from inferstack.bench.stats import summarize


def _records(streams: int, step: float, tokens: int, ttft: float) -> list[RequestRecord]:
    out = []
    for i in range(streams):
        start = float(i)
        chunks = [start + ttft + k * step for k in range(tokens)]
        out.append(
            RequestRecord(
                start=start,
                end=chunks[-1],
                chunk_times=chunks,
                output_tokens=tokens,
                prompt_tokens=20,
                token_source=TokenSource.USAGE,
            )
        )
    return out


def _result(mode: LoopMode = LoopMode.CLOSED) -> BenchResult:
    levels = [
        LevelResult(level=c, stats=summarize(_records(c, 0.01 * c, 10, 0.05))) for c in (1, 4)
    ]
    return BenchResult(
        started_at="2026-12-01T10:00:00+00:00",
        config=RunConfig(mode=mode, levels=[1, 4]),
        workload={},
        machine={"cpu_count": 2, "platform": "Linux"},
        targets=[
            TargetResult(name="t", base_url="http://127.0.0.1:1/v1", model="gemma", levels=levels)
        ],
    )


def test_points_and_facts_from_a_closed_loop_run() -> None:
    p = profile_from_result(
        _result(),
        "inferstack bench --concurrency 1,4",
        {"quantization": "Q4_K_M", "parallel": "8", "name": "mine"},
    )
    assert p.name == "mine" and p.model == "gemma" and p.parallel == 8
    assert p.source.kind == "measured" and p.source.reference.startswith("inferstack bench")
    assert [pt.concurrency for pt in p.points] == [1, 4]
    assert p.points[0].itl_ms == pytest.approx(10.0)
    assert p.points[1].itl_ms == pytest.approx(40.0)
    assert p.points[0].ttft_ms == pytest.approx(50.0)
    assert p.points[0].prefill_tok_per_s == pytest.approx(20 / (0.05 - 0.01))
    assert p.mean_prompt_tokens == 20 and p.mean_output_tokens == 10


def test_open_loop_runs_make_no_profile() -> None:
    with pytest.raises(ValueError, match="closed-loop"):
        profile_from_result(_result(LoopMode.OPEN), "x")
