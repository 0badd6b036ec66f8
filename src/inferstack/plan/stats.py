"""Statistics of a simulation, defined like ``inferstack bench`` defines them: TTFT from
arrival to first token, ITL pooled over every inter-token gap, throughput over the window from
the first arrival to the last finish; percentiles interpolate between order statistics."""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, Field

from inferstack.plan.replica import Recorder
from inferstack.plan.workload import Slo

__all__ = ["SimSummary", "percentile", "slo_windows", "summarize", "weighted_percentile"]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100), linear between order statistics; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def weighted_percentile(counts: dict[float, int], q: float) -> float | None:
    """The percentile of a multiset given as value -> count (same definition as above)."""
    total = sum(counts.values())
    if total == 0:
        return None
    items = sorted(counts.items())
    rank = (total - 1) * q / 100

    def at(index: int) -> float:
        seen = 0
        for value, count in items:
            seen += count
            if index < seen:
                return value
        return items[-1][0]

    low = math.floor(rank)
    lo, hi = at(low), at(min(low + 1, total - 1))
    return lo + (hi - lo) * (rank - low)


class SimSummary(BaseModel):
    """What a simulation predicts (milliseconds, tokens per second, USD)."""

    requests: int
    completed: int
    ttft_p50_ms: float | None
    ttft_p99_ms: float | None
    itl_p50_ms: float | None
    itl_p99_ms: float | None
    tpot_p50_ms: float | None
    output_tok_per_s: float
    window_s: float
    slo_attainment: float | None = Field(description="share of measured requests meeting the SLO")
    cost_usd: float
    usd_per_million_output_tokens: float | None


def summarize(
    rec: Recorder, cost_usd: float, end: float, slo: Slo | None, warmup: int = 0
) -> SimSummary:
    """Summarize the requests after the first ``warmup`` (cost counts the whole run)."""
    ids = [i for i in range(warmup, len(rec.requests)) if not math.isnan(rec.finish[i])]
    ttft = [(rec.first_token[i] - rec.requests[i].arrival) * 1000 for i in ids]
    tpot = [rec.gap_sum[i] / rec.gap_count[i] * 1000 for i in ids if rec.gap_count[i]]
    out_tokens = sum(rec.requests[i].output_tokens for i in ids)
    window = (
        max(rec.finish[i] for i in ids) - min(rec.requests[i].arrival for i in ids) if ids else 0.0
    )
    all_tokens = sum(r.output_tokens for r in rec.requests)
    attained = None
    if slo is not None and ids:
        ok = 0
        for i in ids:
            t_ok = (rec.first_token[i] - rec.requests[i].arrival) * 1000 <= slo.ttft_ms
            mean_gap = rec.gap_sum[i] / rec.gap_count[i] * 1000 if rec.gap_count[i] else 0.0
            ok += t_ok and mean_gap <= slo.itl_ms
        attained = ok / len(ids)
    itl = {k * 1000: v for k, v in rec.gaps.items()}
    return SimSummary(
        requests=len(rec.requests) - warmup,
        completed=len(ids),
        ttft_p50_ms=percentile(ttft, 50),
        ttft_p99_ms=percentile(ttft, 99),
        itl_p50_ms=weighted_percentile(itl, 50),
        itl_p99_ms=weighted_percentile(itl, 99),
        tpot_p50_ms=percentile(tpot, 50),
        output_tok_per_s=out_tokens / window if window > 0 else 0.0,
        window_s=window,
        slo_attainment=attained,
        cost_usd=cost_usd,
        usd_per_million_output_tokens=cost_usd / all_tokens * 1e6 if all_tokens else None,
    )


def slo_windows(rec: Recorder, slo: Slo, window_s: float = 60.0) -> list[dict[str, float]]:
    """SLO attainment over time: per window of arrival times, requests and the share meeting
    ``slo`` (the report's "SLO over time")."""
    buckets: dict[int, list[bool]] = {}
    for i, req in enumerate(rec.requests):
        if math.isnan(rec.finish[i]):
            continue
        ttft_ms = (rec.first_token[i] - req.arrival) * 1000
        gap_ms = rec.gap_sum[i] / rec.gap_count[i] * 1000 if rec.gap_count[i] else 0.0
        ok = ttft_ms <= slo.ttft_ms and gap_ms <= slo.itl_ms
        buckets.setdefault(int(req.arrival // window_s), []).append(ok)
    return [
        {"t": k * window_s, "requests": float(len(v)), "slo_attainment": sum(v) / len(v)}
        for k, v in sorted(buckets.items())
    ]
