"""The plan as Markdown and JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from inferstack.plan.planner import LoadPoint, PoolPlan
from inferstack.plan.validate import METRICS, Comparison

__all__ = [
    "PlanReport",
    "comparison_markdown",
    "crossover_markdown",
    "plan_markdown",
    "write_report",
]


class PlanReport(BaseModel):
    """Everything ``inferstack plan`` computed, as written to ``plan.json``."""

    command: str
    workload: dict[str, Any]
    slo: dict[str, Any]
    prices: dict[str, str]
    pools: list[PoolPlan]
    cheapest: str | None = Field(description="the cheapest pool meeting the SLO")
    loads: list[LoadPoint] = Field(default_factory=list)
    crossover_rps: float | None = None


def _f(value: float | None, fmt: str = ".3g") -> str:
    return "—" if value is None else format(value, fmt)


def plan_markdown(report: PlanReport, plots: list[str]) -> str:
    w = report.workload
    lines = [
        "# inferstack plan",
        "",
        f"Command: `{report.command}`",
        "",
        f"Workload: {w['rate']:g} req/s, prompt {w['prompt']}, output {w['output']} tokens. "
        f"SLO: TTFT ≤ {report.slo['ttft_ms']:g} ms and mean ITL ≤ {report.slo['itl_ms']:g} ms "
        f"for {report.slo['attainment']:.0%} of requests.",
        f"Prices: {report.prices.get('reference', 'packaged table')} "
        f"({report.prices.get('region', '')}, generated {report.prices.get('generated_at', '?')}).",
        "",
        "| pool | hw | replicas | nodes | util. | SLO att. | TTFT p99 ms | $/hour | $/1M out "
        "| note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for p in sorted(
        report.pools,
        key=lambda p: (
            p.usd_per_million_output_tokens is None,
            p.usd_per_million_output_tokens or 0,
        ),
    ):
        note = p.reason or ("missing: " + ", ".join(p.missing) if p.missing else "")
        lines.append(
            f"| {p.pool} | {p.hardware} | {p.replicas or '—'} | {p.nodes or '—'} | "
            f"{_f(p.utilisation, '.0%')} | {_f(p.slo_attainment, '.1%')} | "
            f"{_f(p.ttft_p99_ms, '.0f')} | {_f(p.usd_per_hour, '.3f')} | "
            f"{_f(p.usd_per_million_output_tokens, '.3f')} | {note} |"
        )
    lines += ["", f"Cheapest meeting the SLO: **{report.cheapest or 'none'}**", ""]
    if report.loads:
        lines += crossover_markdown(report.loads, report.crossover_rps)
    for png in plots:
        lines += [f"![{png}]({png})", ""]
    lines += [
        "Definitions: replicas = max(min replicas, ceil(rate / one replica's SLO capacity)), "
        "checked by simulating the pool; $/1M out = pool $/hour / output tokens per hour at "
        "this rate (idle capacity and minimum replicas included); utilisation = rate / "
        "(replicas x one replica's SLO capacity).",
        "",
    ]
    return "\n".join(lines)


def crossover_markdown(loads: list[LoadPoint], crossover: float | None) -> list[str]:
    lines = [
        "| req/s | cheapest CPU pool | CPU $/1M | cheapest GPU pool | GPU $/1M |",
        "|---:|---|---:|---|---:|",
    ]
    for p in loads:
        lines.append(
            f"| {p.rate:g} | {p.cpu_pool or '—'} | {_f(p.cpu_usd_per_million, '.3f')} | "
            f"{p.gpu_pool or '—'} | {_f(p.gpu_usd_per_million, '.3f')} |"
        )
    if all(p.cpu_usd_per_million is None for p in loads):
        where = "no CPU pool meets the SLO at these loads (or none is priced)"
    elif all(p.gpu_usd_per_million is None for p in loads):
        where = "no GPU pool meets the SLO at these loads (or none is priced)"
    elif crossover is None:
        where = "not within these loads"
    else:
        where = f"{crossover:.3g} req/s"
    return [*lines, "", f"GPU pool cheaper than the CPU pool from: **{where}**", ""]


def comparison_markdown(rows: list[Comparison]) -> str:
    head = "| rate req/s | n | " + " | ".join(f"{m} meas. / pred. (err)" for m in METRICS) + " |"
    lines = [head, "|---:|---:|" + "---:|" * len(METRICS)]
    for r in rows:
        cells = []
        for m in METRICS:
            meas, pred, err = r.measured[m], r.predicted[m], r.error[m]
            cells.append(f"{_f(meas, '.1f')} / {_f(pred, '.1f')} ({_f(err, '+.0%')})")
        lines.append(f"| {r.rate:g} | {r.requests} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_report(report: PlanReport, out_dir: Path, plots: list[str]) -> list[str]:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "plan.json").write_text(
        json.dumps(report.model_dump(mode="json"), indent=2), encoding="utf-8"
    )
    (out_dir / "plan.md").write_text(plan_markdown(report, plots), encoding="utf-8")
    return ["plan.json", "plan.md", *plots]
