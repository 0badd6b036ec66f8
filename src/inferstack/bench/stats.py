"""Statistics of one benchmark level, computed from request timelines.

Definitions (the report repeats them):

- *window*: from the first measured request's start to the last measured request's end; the
  aggregate rates divide by it, never by the sum of request latencies;
- *output tok/s*: output tokens of successful requests / window;
- *req/s*: successful requests / window;
- *TTFT*: request start (open loop: its scheduled arrival, so time queued in the client
  counts) → first text chunk (content, reasoning or tool-call delta); *ITL*: gaps between
  consecutive text chunks, pooled over all successful requests; *TPOT*: per request,
  (last chunk - first chunk) / (output tokens - 1); *e2e*: request start → end of stream;
- percentiles interpolate linearly between order statistics (numpy's default).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, Field

from inferstack.bench.records import RequestRecord, TokenSource

__all__ = [
    "PERCENTILES",
    "LevelStats",
    "Percentiles",
    "cost_per_million_tokens",
    "percentile",
    "summarize",
]

PERCENTILES = (50, 90, 99)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0 to 100) with linear interpolation; ``None`` for no values."""
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class Percentiles(BaseModel):
    """p50 / p90 / p99 and mean of one latency, in milliseconds."""

    p50: float | None = None
    p90: float | None = None
    p99: float | None = None
    mean: float | None = None
    count: int = 0

    @classmethod
    def of_seconds(cls, values: Sequence[float]) -> Percentiles:
        ms = [v * 1000.0 for v in values]
        if not ms:
            return cls()
        p50, p90, p99 = (percentile(ms, q) for q in PERCENTILES)
        return cls(p50=p50, p90=p90, p99=p99, mean=sum(ms) / len(ms), count=len(ms))

    def get(self, name: str) -> float | None:
        """A field by name (``p50``, ``p90``, ``p99``, ``mean``)."""
        return getattr(self, name)


class LevelStats(BaseModel):
    """Everything measured at one level (a concurrency or an offered request rate)."""

    requests: int = Field(description="measured requests sent (warm-up excluded)")
    succeeded: int
    errors: dict[str, int] = Field(description="failed requests by error kind")
    window_s: float = Field(description="first measured start to last measured end")
    output_tokens: int
    empty_responses: int = Field(
        default=0,
        description="successful requests that produced no text (e.g. an immediate end of "
        "generation); they count in req/s and e2e, not in TTFT",
    )
    prompt_tokens: int | None = Field(description="sum of usage prompt tokens, when reported")
    output_tok_per_s: float
    req_per_s: float
    token_source: str = Field(description="'usage', 'chunks' (fallback count) or 'mixed'")
    mean_output_tokens: float | None
    mean_prompt_tokens: float | None
    ttft_ms: Percentiles
    itl_ms: Percentiles
    tpot_ms: Percentiles
    e2e_ms: Percentiles
    client_wait_ms: Percentiles = Field(
        default_factory=Percentiles,
        description="open loop: scheduled arrival → send (waiting for the client's in-flight "
        "cap); included in TTFT and e2e, so client-side queueing is not hidden",
    )
    cpu_cores: float | None = Field(default=None, description="target CPU use, in cores")
    cpu_percent: float | None = Field(
        default=None, description="target CPU use, percent of this machine's cores"
    )
    usd_per_million_output_tokens: float | None = None
    ttft_samples_ms: list[float] = Field(
        default_factory=list, description="every successful request's TTFT, for distributions"
    )

    @property
    def error_rate(self) -> float:
        return (self.requests - self.succeeded) / self.requests if self.requests else 0.0

    def metric(self, name: str) -> float | None:
        """A latency by ``family_stat`` name, e.g. ``ttft_p90`` or ``e2e_p99`` (milliseconds)."""
        family, _, stat = name.partition("_")
        table = {"ttft": self.ttft_ms, "itl": self.itl_ms, "tpot": self.tpot_ms, "e2e": self.e2e_ms}
        if family not in table or stat not in ("p50", "p90", "p99", "mean"):
            raise ValueError(f"unknown latency metric {name!r}")
        return table[family].get(stat)


def cost_per_million_tokens(price_per_hour: float, tokens_per_s: float) -> float | None:
    """Dollars per 1M output tokens for capacity costing ``price_per_hour`` at that rate."""
    if tokens_per_s <= 0:
        return None
    return price_per_hour / (tokens_per_s * 3600.0) * 1_000_000


def _token_source(records: Iterable[RequestRecord]) -> str:
    sources = {r.token_source for r in records}
    if not sources:
        return TokenSource.USAGE.value
    return sources.pop().value if len(sources) == 1 else "mixed"


def summarize(records: Sequence[RequestRecord], price_per_hour: float | None = None) -> LevelStats:
    """Statistics of one level's measured (non-warm-up) requests."""
    measured = [r for r in records if not r.warmup]
    ok = [r for r in measured if r.ok]
    window = max(r.end for r in measured) - min(r.start for r in measured) if measured else 0.0
    out_tokens = sum(r.output_tokens for r in ok)
    prompt_counts = [r.prompt_tokens for r in ok if r.prompt_tokens is not None]
    tok_s = out_tokens / window if window > 0 else 0.0
    gaps = [g for r in ok for g in r.inter_token_gaps()]
    ttfts = [t for r in ok if (t := r.ttft) is not None]
    return LevelStats(
        requests=len(measured),
        succeeded=len(ok),
        errors=dict(Counter(r.error.value for r in measured if r.error is not None)),
        window_s=window,
        output_tokens=out_tokens,
        empty_responses=sum(1 for r in ok if not r.chunk_times),
        prompt_tokens=sum(prompt_counts) if prompt_counts else None,
        output_tok_per_s=tok_s,
        req_per_s=len(ok) / window if window > 0 else 0.0,
        token_source=_token_source(ok),
        mean_output_tokens=out_tokens / len(ok) if ok else None,
        mean_prompt_tokens=sum(prompt_counts) / len(prompt_counts) if prompt_counts else None,
        ttft_ms=Percentiles.of_seconds(ttfts),
        itl_ms=Percentiles.of_seconds(gaps),
        tpot_ms=Percentiles.of_seconds([t for r in ok if (t := r.tpot) is not None]),
        e2e_ms=Percentiles.of_seconds([r.e2e for r in ok]),
        client_wait_ms=Percentiles.of_seconds([r.client_wait for r in ok]),
        usd_per_million_output_tokens=(
            cost_per_million_tokens(price_per_hour, tok_s) if price_per_hour else None
        ),
        ttft_samples_ms=[round(t * 1000.0, 3) for t in ttfts],
    )
