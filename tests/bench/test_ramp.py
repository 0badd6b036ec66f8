"""Stop rules, interleaving order and the ramp driver with a scripted level runner."""

from __future__ import annotations

import pytest

from inferstack.bench.client import Target
from inferstack.bench.levels import LevelContext
from inferstack.bench.ramp import Bench, interleave, stop_reason
from inferstack.bench.records import ErrorKind, RequestRecord, TokenSource
from inferstack.bench.settings import RunConfig
from inferstack.bench.stats import summarize
from inferstack.bench.workload import Workload


def level_stats(tok_per_s: float, *, ttft_s: float = 0.1, failed: int = 0, total: int = 10):
    """Stats of a 1-second level whose successful requests produce ``tok_per_s`` tokens."""
    ok = total - failed
    records = [
        RequestRecord(
            start=0.0,
            end=1.0,
            chunk_times=[ttft_s, 0.9],
            output_tokens=round(tok_per_s / ok) if ok else 0,
            token_source=TokenSource.USAGE,
        )
        for _ in range(ok)
    ]
    records += [RequestRecord(start=0.0, end=1.0, error=ErrorKind.HTTP_5XX) for _ in range(failed)]
    return summarize(records)


def test_gain_rule() -> None:
    cfg = RunConfig(min_gain=0.05)
    assert stop_reason([level_stats(100)], cfg) is None
    assert stop_reason([level_stats(100), level_stats(110)], cfg) is None
    reason = stop_reason([level_stats(100), level_stats(104)], cfg)
    assert reason is not None and "gain" in reason
    # Compared with the best earlier level, not just the previous one.
    assert stop_reason([level_stats(200), level_stats(100), level_stats(205)], cfg) is not None
    assert stop_reason([level_stats(100), level_stats(50)], RunConfig(min_gain=0)) is None


def test_slo_rule() -> None:
    cfg = RunConfig(slo_ms={"ttft_p90": 500}, min_gain=0)
    assert stop_reason([level_stats(100, ttft_s=0.4)], cfg) is None
    reason = stop_reason([level_stats(100, ttft_s=0.6)], cfg)
    assert reason is not None and "ttft_p90" in reason


def test_error_rule_comes_first() -> None:
    cfg = RunConfig(max_error_rate=0.1, slo_ms={"ttft_p50": 1})
    assert stop_reason([level_stats(100, failed=1)], cfg.model_copy(update={"slo_ms": {}})) is None
    reason = stop_reason([level_stats(100, failed=2)], cfg)
    assert reason is not None and reason.startswith("error rate 20%")


def test_interleave_is_level_major_and_skips_stopped_targets() -> None:
    stopped: set[str] = set()
    order = []
    for level, name in interleave([1, 2, 4], ["A", "B", "C"], stopped.__contains__):
        order.append((level, name))
        if (level, name) == (2, "B"):
            stopped.add("B")
    assert order == [(1, "A"), (1, "B"), (1, "C"), (2, "A"), (2, "B"), (2, "C"), (4, "A"), (4, "C")]


class Scripted:
    """A level runner that fabricates records: tok/s per (target, level) from a table."""

    def __init__(self, table: dict[tuple[str, float], float]) -> None:
        self.table = table
        self.calls: list[tuple[str, float]] = []

    async def __call__(self, ctx: LevelContext, level: float, records: list[RequestRecord]) -> None:
        self.calls.append((ctx.target.name, level))
        ctx.on_measure_start()
        rate = self.table[(ctx.target.name, level)]
        for _ in range(4):
            assert ctx.budget.take()
            body = ctx.workload.body(ctx.next_prompt())
            assert body["stream"] is True
            records.append(
                RequestRecord(
                    start=0.0,
                    end=1.0,
                    chunk_times=[0.1, 0.2],
                    output_tokens=int(rate / 4),
                    token_source=TokenSource.USAGE,
                )
            )


async def test_compare_run_interleaves_stops_per_target_and_computes_ratios() -> None:
    table = {
        ("A", 1): 40, ("A", 2): 80, ("A", 4): 160,
        ("B", 1): 20, ("B", 2): 20, ("B", 4): 999,  # B stops after 2: no gain
    }  # fmt: skip
    runner = Scripted(table)
    bench = Bench(
        [
            Target(name="A", base_url="http://127.0.0.1:1/v1"),
            Target(name="B", base_url="http://127.0.0.1:2/v1"),
        ],
        Workload(prompts=["p"]),
        RunConfig(levels=[1, 2, 4], requests_per_level=4, warmup_requests=0),
        level_runner=runner,
    )
    result = await bench.run()
    assert runner.calls == [("A", 1), ("B", 1), ("A", 2), ("B", 2), ("A", 4)]
    a, b = result.targets
    assert [lr.level for lr in a.levels] == [1, 2, 4] and a.stopped is None
    assert [lr.level for lr in b.levels] == [1, 2] and "gain" in (b.stopped or "")
    assert a.best().level == 4
    assert result.ratios["B"]["1"]["output_tok_per_s"] == pytest.approx(0.5)
    assert result.ratios["B"]["2"]["output_tok_per_s"] == pytest.approx(0.25)
    assert "4" not in result.ratios["B"]
    assert result.run_stopped is None


async def test_request_cap_ends_the_run() -> None:
    runner = Scripted({("A", 1): 10, ("A", 2): 20, ("A", 4): 40})
    bench = Bench(
        [Target(name="A", base_url="http://127.0.0.1:1/v1")],
        Workload(prompts=["p"]),
        RunConfig(levels=[1, 2, 4], requests_per_level=4, warmup_requests=0, max_total_requests=8),
        level_runner=runner,
    )
    result = await bench.run()
    assert runner.calls == [("A", 1), ("A", 2)]
    assert result.run_stopped == "request cap"


def test_duplicate_target_names_are_refused() -> None:
    t = Target(name="A", base_url="http://127.0.0.1:1/v1")
    with pytest.raises(ValueError):
        Bench([t, t], Workload(prompts=["p"]), RunConfig())
