"""The result of a benchmark run, as written to ``results.json``, and ratios between targets."""

from __future__ import annotations

from pydantic import BaseModel, Field

from inferstack.bench.settings import RunConfig
from inferstack.bench.stats import LevelStats

__all__ = ["BenchResult", "LevelResult", "TargetResult", "ratios_against_first"]

RATIO_METRICS = ("output_tok_per_s", "req_per_s", "ttft_p50", "itl_p50", "e2e_p50")


class LevelResult(BaseModel):
    level: float = Field(description="concurrency (closed loop) or offered req/s (open loop)")
    stats: LevelStats


class TargetResult(BaseModel):
    name: str
    base_url: str
    pid: int | None = Field(default=None, description="process whose CPU use was sampled")
    model: str | None = Field(default=None, description="model id sent in the requests")
    levels: list[LevelResult] = Field(default_factory=list)
    stopped: str | None = Field(default=None, description="why the ramp ended early, if it did")

    def at(self, level: float) -> LevelStats | None:
        return next((lr.stats for lr in self.levels if lr.level == level), None)

    def best(self) -> LevelResult | None:
        """The level with the highest output tok/s."""
        return max(self.levels, key=lambda lr: lr.stats.output_tok_per_s, default=None)


class BenchResult(BaseModel):
    """A whole run: settings, workload, per-target per-level statistics, ratios."""

    started_at: str
    finished_at: str = ""
    config: RunConfig
    workload: dict[str, object]
    machine: dict[str, object]
    targets: list[TargetResult]
    run_stopped: str | None = Field(default=None, description="a hard cap that ended the run")
    ratios: dict[str, dict[str, dict[str, float | None]]] = Field(
        default_factory=dict,
        description="target -> level -> metric ratio against the first target",
    )


def _metric(stats: LevelStats, name: str) -> float | None:
    if name in ("output_tok_per_s", "req_per_s"):
        return float(getattr(stats, name))
    return stats.metric(name)


def ratios_against_first(
    targets: list[TargetResult],
) -> dict[str, dict[str, dict[str, float | None]]]:
    """For every target after the first, each shared level's metrics divided by the first's."""
    if len(targets) < 2:
        return {}
    base = targets[0]
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    for target in targets[1:]:
        per_level: dict[str, dict[str, float | None]] = {}
        for lr in target.levels:
            ref = base.at(lr.level)
            if ref is None:
                continue
            row: dict[str, float | None] = {}
            for name in RATIO_METRICS:
                mine, theirs = _metric(lr.stats, name), _metric(ref, name)
                row[name] = mine / theirs if mine is not None and theirs else None
            per_level[f"{lr.level:g}"] = row
        out[target.name] = per_level
    return out
