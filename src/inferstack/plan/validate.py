"""Checking the simulator against a measured run: replay the arrivals of an open-loop
``inferstack bench --rate`` run (``results.json``) through one simulated replica built from a
profile, and put predicted next to measured TTFT p50/p99, ITL p50 and throughput.

Arrivals are redrawn exactly as the bench drew them (same seed rule, same generator); prompt
and output lengths are each level's measured means.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from inferstack.plan.profiles import Profile
from inferstack.plan.service import ServiceModel
from inferstack.plan.simulator import PoolSpec, simulate
from inferstack.plan.workload import Length, poisson_offsets, synthetic_requests

__all__ = ["METRICS", "Comparison", "compare_run", "load_bench_result"]

METRICS = ("ttft_p50_ms", "ttft_p99_ms", "itl_p50_ms", "output_tok_per_s")


class Comparison(BaseModel):
    """Predicted and measured values of one level; ``error`` is predicted / measured - 1."""

    rate: float
    requests: int
    measured: dict[str, float | None]
    predicted: dict[str, float | None]
    error: dict[str, float | None]


def load_bench_result(path: str | Path) -> dict[str, Any]:
    """A bench ``results.json`` as plain data (plan reads it without importing bench)."""
    data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("config", {}).get("mode") != "open":
        raise ValueError(f"{path}: not an open-loop run (bench --rate)")
    return data


def _measured(stats: dict[str, Any]) -> dict[str, float | None]:
    return {
        "ttft_p50_ms": stats["ttft_ms"]["p50"],
        "ttft_p99_ms": stats["ttft_ms"]["p99"],
        "itl_p50_ms": stats["itl_ms"]["p50"],
        "output_tok_per_s": stats["output_tok_per_s"],
    }


def compare_run(profile: Profile, result: dict[str, Any], target: int = 0) -> list[Comparison]:
    """Predicted vs measured for every level of ``result``'s target number ``target``."""
    cfg = result["config"]
    model = ServiceModel(profile)
    out = []
    for level in result["targets"][target]["levels"]:
        rate, stats = float(level["level"]), level["stats"]
        if not stats["succeeded"]:
            continue
        seed = int(cfg["seed"]) + int(rate * 1000)  # the bench's rule (bench/levels.py)
        offsets = poisson_offsets(rate, cfg.get("requests_per_level"), cfg.get("duration_s"), seed)
        prompt = Length(kind="fixed", a=stats["mean_prompt_tokens"] or 1)
        output = Length(kind="fixed", a=stats["mean_output_tokens"] or 1)
        reqs = synthetic_requests(offsets[: stats["requests"]], prompt, output, seed)
        s = simulate(model, PoolSpec(replicas=1), reqs).summary
        predicted = {k: getattr(s, k) for k in METRICS}
        measured = _measured(stats)
        error = {
            k: (predicted[k] / measured[k] - 1.0)
            if predicted[k] is not None and measured[k]
            else None
            for k in METRICS
        }
        out.append(
            Comparison(
                rate=rate, requests=len(reqs), measured=measured, predicted=predicted, error=error
            )
        )
    return out
