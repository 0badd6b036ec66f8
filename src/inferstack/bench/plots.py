"""PNG plots of a run (matplotlib, Agg backend): throughput and latency against the level,
and the distribution of time to first token."""

from __future__ import annotations

from pathlib import Path

from inferstack.bench.results import BenchResult

__all__ = ["write_plots"]


def write_plots(result: BenchResult, out_dir: Path) -> list[str]:
    """Write the plots into ``out_dir``; return their file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    unit = "concurrent streams" if result.config.mode == "closed" else "offered requests/s"
    names: list[str] = []
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    color = {t.name: colors[i % len(colors)] for i, t in enumerate(result.targets)}
    levels = sorted({lr.level for t in result.targets for lr in t.levels})

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for t in result.targets:
        xs = [lr.level for lr in t.levels]
        ys = [lr.stats.output_tok_per_s for lr in t.levels]
        ax.plot(xs, ys, marker="o", color=color[t.name], label=t.name)
    _axes(ax, unit, "output tokens/s (aggregate)", "Throughput")
    ax.set_ylim(bottom=0)
    _level_axis(ax, levels)
    names.append(_save(fig, out_dir, "throughput.png"))

    families = (("ttft_ms", "TTFT"), ("itl_ms", "inter-token latency"), ("e2e_ms", "end-to-end"))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, (field, title) in zip(axes, families, strict=True):
        for t in result.targets:
            xs = [lr.level for lr in t.levels]
            for stat, style in (("p50", "-"), ("p90", "--"), ("p99", ":")):
                ys = [getattr(lr.stats, field).get(stat) for lr in t.levels]
                ax.plot(xs, ys, style, marker="o", color=color[t.name], label=f"{t.name} {stat}")
        _axes(ax, unit, "milliseconds", title)
        _level_axis(ax, levels)
    names.append(_save(fig, out_dir, "latency.png"))

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for t in result.targets:
        for lr in t.levels:
            samples = sorted(lr.stats.ttft_samples_ms)
            if samples:
                ys = [100.0 * (i + 1) / len(samples) for i in range(len(samples))]
                ax.step(samples, ys, where="post", label=f"{t.name} @ {lr.level:g}")
    _axes(ax, "TTFT (ms)", "% of requests at or below", "Time to first token (CDF per level)")
    names.append(_save(fig, out_dir, "ttft.png"))
    plt.close("all")
    return names


def _level_axis(ax: object, levels: list[float]) -> None:
    # Levels usually double (1, 2, 4, ...): a log2 axis spaces them evenly.
    if len(levels) > 1 and levels[0] > 0 and levels[-1] / levels[0] >= 4:
        ax.set_xscale("log", base=2)  # type: ignore[attr-defined]
    ax.set_xticks(levels, [f"{v:g}" for v in levels])  # type: ignore[attr-defined]


def _axes(ax: object, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xlabel(xlabel)  # type: ignore[attr-defined]
    ax.set_ylabel(ylabel)  # type: ignore[attr-defined]
    ax.set_title(title)  # type: ignore[attr-defined]
    ax.grid(True, alpha=0.3)  # type: ignore[attr-defined]
    ax.legend(fontsize=7)  # type: ignore[attr-defined]


def _save(fig: object, out_dir: Path, name: str) -> str:
    fig.tight_layout()  # type: ignore[attr-defined]
    fig.savefig(out_dir / name, dpi=110)  # type: ignore[attr-defined]
    return name
