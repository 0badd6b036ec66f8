"""A throughput profile (:class:`inferstack.plan.profiles.Profile`) from a closed-loop run.

Each measured concurrency becomes a profile point: aggregate output tok/s, ITL p50 and TTFT
p50; the prefill rate is the mean prompt length over the TTFT less one decode step. What the run
cannot know (quantization, engine, instance, slots) comes from the caller, or stays missing.
"""

from __future__ import annotations

import datetime as dt
import platform
from pathlib import Path

from inferstack.bench.results import BenchResult, TargetResult
from inferstack.bench.settings import LoopMode
from inferstack.plan.profiles import Profile, ProfilePoint, ProfileSource

__all__ = ["cpu_model", "profile_from_result"]


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """This machine's CPU model name, if /proc/cpuinfo tells it."""
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.split(":")[0].strip() in ("model name", "Model", "CPU part"):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return platform.processor() or None


def _points(target: TargetResult) -> list[ProfilePoint]:
    points = []
    for lr in target.levels:
        s = lr.stats
        if s.succeeded == 0 or s.output_tok_per_s <= 0:
            continue
        prefill = None
        if s.mean_prompt_tokens and s.ttft_ms.p50 and s.itl_ms.p50:
            # TTFT = one step (which samples the first token) + the prompt's prefill.
            busy_ms = max(s.ttft_ms.p50 - s.itl_ms.p50, 0.1 * s.ttft_ms.p50)
            prefill = s.mean_prompt_tokens / (busy_ms / 1000.0)
        points.append(
            ProfilePoint(
                concurrency=int(lr.level),
                decode_tok_per_s=s.output_tok_per_s,
                itl_ms=s.itl_ms.p50,
                ttft_ms=s.ttft_ms.p50,
                prefill_tok_per_s=prefill,
            )
        )
    return points


def profile_from_result(
    result: BenchResult, command: str, fields: dict[str, str] | None = None, target: int = 0
) -> Profile:
    """The profile of ``result.targets[target]``; ``fields`` fill in what the run cannot know
    (name, model, params_b, quantization, engine, hardware, instance, threads, parallel, ...)."""
    if result.config.mode is not LoopMode.CLOSED:
        raise ValueError("a profile needs a closed-loop run (--concurrency), not --rate")
    t = result.targets[target]
    points = _points(t)
    if not points:
        raise ValueError(f"target {t.name}: no level with successful requests")
    stats = [lr.stats for lr in t.levels if lr.stats.succeeded]
    prompts = [s.mean_prompt_tokens for s in stats if s.mean_prompt_tokens]
    outputs = [s.mean_output_tokens for s in stats if s.mean_output_tokens]
    data: dict[str, object] = {
        "name": f"{t.model or 'model'}-{platform.machine()}",
        "model": t.model or "unknown",
        "engine": "unknown",
        "hardware": "cpu",
        "cpu": cpu_model(),
        "mean_prompt_tokens": sum(prompts) / len(prompts) if prompts else None,
        "mean_output_tokens": sum(outputs) / len(outputs) if outputs else None,
        "source": ProfileSource(
            kind="measured",
            reference=command,
            date=result.started_at or dt.date.today().isoformat(),
            notes=f"inferstack bench, {result.machine.get('cpu_count')} CPUs visible, "
            f"{result.machine.get('platform')}",
        ),
        "points": points,
    }
    data.update(fields or {})
    return Profile.model_validate(data)
