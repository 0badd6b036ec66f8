"""PNG plots of a plan: cost vs load, SLO attainment vs load, and a simulated timeline.
matplotlib comes with the ``bench`` extra; it is imported here only."""

from __future__ import annotations

from pathlib import Path

from inferstack.plan.planner import PoolPlan

__all__ = ["plot_cost_vs_load", "plot_slo_vs_load", "plot_timeline"]


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_cost_vs_load(
    curves: dict[str, list[PoolPlan]], rates: list[float], path: Path, title: str
) -> None:
    """$/1M output tokens per pool against offered load (log-log)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    for name, plans in curves.items():
        xs = [r for r, p in zip(rates, plans, strict=True) if p.usd_per_million_output_tokens]
        ys = [p.usd_per_million_output_tokens for p in plans if p.usd_per_million_output_tokens]
        if xs:
            ax.plot(xs, ys, marker="o", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered load, requests/s")
    ax.set_ylabel("$ per 1M output tokens")
    ax.set_title(title, fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_slo_vs_load(
    curves: dict[str, list[PoolPlan]], rates: list[float], path: Path, title: str
) -> None:
    """Simulated SLO attainment of each pool's planned size against offered load."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    for name, plans in curves.items():
        pts = [
            (r, p.slo_attainment)
            for r, p in zip(rates, plans, strict=True)
            if p.slo_attainment is not None
        ]
        if pts:
            ax.plot([x for x, _ in pts], [y for _, y in pts], marker="o", label=name)
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("offered load, requests/s")
    ax.set_ylabel("SLO attainment")
    ax.set_title(title, fontsize=8)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_timeline(
    timeline: list[dict[str, float]],
    path: Path,
    title: str,
    slo: list[dict[str, float]] | None = None,
) -> None:
    """Replicas, ongoing requests, cumulative cost and SLO attainment over a simulated trace."""
    plt = _pyplot()
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    t = [s["t"] for s in timeline]
    a1.plot(t, [s["replicas"] for s in timeline], label="ready replicas")
    a1.plot(t, [s["target"] for s in timeline], label="target replicas", linestyle="--")
    a1.set_ylabel("replicas")
    a1.legend(fontsize=8, loc="upper left")
    a0 = a1.twinx()
    a0.plot(
        t, [s["ongoing"] for s in timeline], label="ongoing requests", color="tab:green", alpha=0.5
    )
    a0.set_ylabel("ongoing requests")
    a0.legend(fontsize=8, loc="upper right")
    a1.set_title(title)
    a2.plot(t, [s["cost_usd"] for s in timeline], label="cumulative $")
    a2.set_ylabel("cumulative $")
    if slo:
        a3 = a2.twinx()
        a3.step(
            [w["t"] for w in slo],
            [w["slo_attainment"] for w in slo],
            where="post",
            color="tab:red",
            label="SLO attainment (per minute of arrivals)",
        )
        a3.set_ylim(0, 1.05)
        a3.set_ylabel("SLO attainment")
        a3.legend(fontsize=8, loc="lower right")
    a2.set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
