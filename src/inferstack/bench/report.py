"""Writing a run's results: ``results.json`` and a Markdown report (``report.md``)."""

from __future__ import annotations

from pathlib import Path

from inferstack.bench.results import BenchResult, TargetResult
from inferstack.bench.stats import LevelStats, Percentiles

__all__ = ["markdown_report", "write_json"]

DEFINITIONS = """\
- **out tok/s**: output tokens of successful requests / the level's window (first measured
  request's start to last one's end) - aggregate throughput, not a per-request rate.
- **TTFT**: request sent -> first text chunk. **ITL**: gap between consecutive text chunks.
  **e2e**: request sent -> end of stream. Percentiles in milliseconds.
- **tokens**: `usage` = the server's streamed usage chunk; `chunks` = fallback count of
  streamed text chunks (a server that packs several tokens in one chunk is undercounted).
- **CPU**: the target process tree's CPU use during the measured part of the level, in cores
  (sampled from /proc; only for a local target).
- **$/1M out**: price per hour / (out tok/s x 3600) x 1,000,000.
"""


def write_json(result: BenchResult, path: Path) -> None:
    """Write the full result as indented JSON."""
    path.write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")


def _num(value: float | None, fmt: str = ".0f") -> str:
    return "-" if value is None else format(value, fmt)


def _pcts(p: Percentiles) -> str:
    return " / ".join(_num(v) for v in (p.p50, p.p90, p.p99))


def _errors(stats: LevelStats) -> str:
    text = ", ".join(f"{k} {v}" for k, v in sorted(stats.errors.items())) or "0"
    return text + (f" ({stats.empty_responses} empty)" if stats.empty_responses else "")


def _per_level(requests: int | None, duration: float | None) -> str:
    parts = [f"{requests} requests" if requests else "", f"{duration:g} s" if duration else ""]
    return " or ".join(p for p in parts if p) + (" (whichever first)" if all(parts) else "")


def _target_table(target: TargetResult, unit: str) -> list[str]:
    rows = [
        f"| {unit} | requests | errors | out tok/s | req/s | TTFT p50/p90/p99 | "
        "ITL p50/p90/p99 | e2e p50/p90/p99 | in/out tok/req | CPU cores | $/1M out | tokens |",
        "|---:|---:|---|---:|---:|---|---|---|---|---:|---:|---|",
    ]
    for lr in target.levels:
        s = lr.stats
        rows.append(
            f"| {lr.level:g} | {s.requests} | {_errors(s)} | {s.output_tok_per_s:.1f} | "
            f"{s.req_per_s:.2f} | {_pcts(s.ttft_ms)} | {_pcts(s.itl_ms)} | {_pcts(s.e2e_ms)} | "
            f"{_num(s.mean_prompt_tokens, '.0f')} / {_num(s.mean_output_tokens, '.1f')} | "
            f"{_num(s.cpu_cores, '.2f')} | "
            f"{_num(s.usd_per_million_output_tokens, '.2f')} | {s.token_source} |"
        )
    return rows


def _compare_table(result: BenchResult, unit: str) -> list[str]:
    first, others = result.targets[0], result.targets[1:]
    cols = [f"{t.name} tok/s" for t in result.targets]
    cols += [f"{t.name} / {first.name}" for t in others]
    cols += [f"{t.name} TTFT p50 ms" for t in result.targets]
    rows = [f"| {unit} | " + " | ".join(cols) + " |", "|---:|" + "---:|" * len(cols)]
    for level in sorted({lr.level for t in result.targets for lr in t.levels}):
        stats = [t.at(level) for t in result.targets]
        cells = [_num(s.output_tok_per_s if s else None, ".1f") for s in stats]
        for t in others:
            ratio = result.ratios.get(t.name, {}).get(f"{level:g}", {}).get("output_tok_per_s")
            cells.append(_num(ratio, ".2f"))
        cells += [_num(s.ttft_ms.p50 if s else None) for s in stats]
        rows.append(f"| {level:g} | " + " | ".join(cells) + " |")
    return rows


def markdown_report(result: BenchResult, plots: list[str] | None = None) -> str:
    """The run as a Markdown document (tables per target, comparison, plots, definitions)."""
    cfg = result.config
    unit = "streams" if cfg.mode == "closed" else "req/s offered"
    wl = result.workload
    lines = [
        "# inferstack bench report",
        "",
        f"- started {result.started_at}, finished {result.finished_at}",
        f"- machine: {result.machine.get('platform')}, {result.machine.get('cpu_count')} CPUs",
        f"- mode: {cfg.mode} loop, levels {', '.join(f'{v:g}' for v in cfg.levels)} {unit}, "
        f"{_per_level(cfg.requests_per_level, cfg.duration_s)} per level after warm-up",
        f"- workload: {wl.get('endpoint')} endpoint, model `{wl.get('model') or 'per target'}`, "
        f"max_tokens {wl.get('max_tokens')}, temperature {wl.get('temperature')}, "
        f"{wl.get('prompt_count')} prompts"
        + (f", synthetic ~{wl['input_tokens']} input tokens" if wl.get("input_tokens") else ""),
    ]
    if cfg.price_per_hour:
        lines.append(f"- price: ${cfg.price_per_hour:g} per hour of serving capacity")
    if result.run_stopped:
        lines.append(f"- **run stopped early: {result.run_stopped}**")
    for target in result.targets:
        lines += ["", f"## {target.name}", "", f"`{target.base_url}`, model `{target.model}`"]
        if target.stopped:
            lines[-1] += f" - ramp ended: {target.stopped}"
        best = target.best()
        if best is not None:
            lines += [
                "",
                f"Peak: **{best.stats.output_tok_per_s:.1f} output tok/s** at {best.level:g} "
                f"{unit}.",
            ]
        lines += ["", *_target_table(target, unit)]
    if len(result.targets) > 1:
        lines += [
            "",
            "## Comparison (interleaved level by level)",
            "",
            *_compare_table(result, unit),
        ]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    lines += ["", "## Definitions", "", DEFINITIONS]
    return "\n".join(lines)
