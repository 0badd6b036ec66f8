"""Workloads: when requests arrive and how long their prompts and answers are, and the SLO.

A workload is either a Poisson arrival rate or a trace (a CSV or JSONL file of arrival times,
optionally with per-request prompt and output lengths). Lengths come from a distribution
(``fixed:N``, ``uniform:A-B``, ``lognormal:MEAN,SIGMA``) when the trace does not carry them.
Everything is seeded: the same workload gives the same requests.
"""

from __future__ import annotations

import csv
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Length",
    "SimRequest",
    "Slo",
    "WorkloadError",
    "load_trace",
    "parse_length",
    "poisson_offsets",
    "synthetic_requests",
]


class WorkloadError(ValueError):
    """A length distribution, SLO or trace cannot be understood."""


@dataclass(frozen=True, slots=True)
class SimRequest:
    """One request of a simulation: arrival time (s), prompt and output tokens."""

    arrival: float
    prompt_tokens: int
    output_tokens: int


class Length(BaseModel):
    """A token-length distribution."""

    model_config = ConfigDict(frozen=True)

    kind: str = Field(description="fixed, uniform or lognormal")
    a: float = Field(description="fixed: N; uniform: low; lognormal: mean")
    b: float = Field(default=0.0, description="uniform: high; lognormal: sigma of log")

    @property
    def mean(self) -> float:
        if self.kind == "uniform":
            return (self.a + self.b) / 2
        return self.a

    def sample(self, rng: random.Random) -> int:
        if self.kind == "fixed":
            return max(1, round(self.a))
        if self.kind == "uniform":
            return max(1, rng.randint(round(self.a), round(self.b)))
        # lognormal with the given mean: mu = ln(mean) - sigma^2 / 2
        mu = math.log(self.a) - self.b**2 / 2
        return max(1, round(rng.lognormvariate(mu, self.b)))

    def __str__(self) -> str:
        if self.kind == "fixed":
            return f"fixed:{self.a:g}"
        sep = "-" if self.kind == "uniform" else ","
        return f"{self.kind}:{self.a:g}{sep}{self.b:g}"


def parse_length(text: str) -> Length:
    """``128``, ``fixed:128``, ``uniform:64-256`` or ``lognormal:200,0.6``."""
    kind, sep, rest = text.partition(":")
    if not sep:
        kind, rest = "fixed", text
    try:
        if kind == "fixed":
            length = Length(kind=kind, a=float(rest))
        elif kind == "uniform":
            low, high = rest.split("-")
            length = Length(kind=kind, a=float(low), b=float(high))
            if length.b < length.a:
                raise ValueError("high < low")
        elif kind == "lognormal":
            mean, sigma = rest.split(",")
            length = Length(kind=kind, a=float(mean), b=float(sigma))
        else:
            raise ValueError(f"unknown distribution {kind!r}")
    except ValueError as exc:
        raise WorkloadError(
            f"length {text!r}: {exc}; use N, fixed:N, uniform:A-B or lognormal:MEAN,SIGMA"
        ) from exc
    if length.a <= 0:
        raise WorkloadError(f"length {text!r}: must be positive")
    return length


class Slo(BaseModel):
    """A request meets the SLO when its TTFT and its mean inter-token latency are within limits;
    a pool meets it when at least ``attainment`` of the requests do."""

    model_config = ConfigDict(frozen=True)

    ttft_ms: float = Field(default=2000.0, gt=0, description="time to first token limit")
    itl_ms: float = Field(default=200.0, gt=0, description="mean inter-token latency limit")
    attainment: float = Field(default=0.95, gt=0, le=1, description="share that must meet it")

    def __str__(self) -> str:
        return (
            f"TTFT <= {self.ttft_ms:g} ms and ITL <= {self.itl_ms:g} ms "
            f"for {self.attainment:.0%} of requests"
        )


def poisson_offsets(
    rate: float, count: int | None, duration: float | None, seed: int
) -> list[float]:
    """Arrival offsets of a Poisson process, drawn exactly like ``inferstack bench --rate``
    draws them (``random.Random(seed).expovariate``), so a simulation can replay a run."""
    if rate <= 0:
        raise WorkloadError("rate must be positive")
    if count is None and duration is None:
        raise WorkloadError("need a request count or a duration")
    rng = random.Random(seed)
    offsets: list[float] = []
    t = 0.0
    while count is None or len(offsets) < count:
        t += rng.expovariate(rate)
        if duration is not None and t >= duration:
            break
        offsets.append(t)
    return offsets


def synthetic_requests(
    arrivals: list[float], prompt: Length, output: Length, seed: int = 0
) -> list[SimRequest]:
    """Requests at ``arrivals`` with lengths drawn from ``prompt`` and ``output``."""
    rng = random.Random(seed + 1)
    return [SimRequest(t, prompt.sample(rng), output.sample(rng)) for t in arrivals]


def _row(raw: dict[str, object], prompt: Length, output: Length, rng: random.Random) -> SimRequest:
    try:
        t = float(raw.get("arrival_s", raw.get("timestamp", raw.get("t"))))  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise WorkloadError(f"trace row without a numeric arrival_s: {raw}") from exc
    p, o = raw.get("prompt_tokens"), raw.get("output_tokens")
    return SimRequest(
        t,
        int(p) if p not in (None, "") else prompt.sample(rng),  # type: ignore[call-overload]
        int(o) if o not in (None, "") else output.sample(rng),  # type: ignore[call-overload]
    )


def load_trace(path: str | Path, prompt: Length, output: Length, seed: int = 0) -> list[SimRequest]:
    """Requests from a CSV (header ``arrival_s[,prompt_tokens,output_tokens]``) or JSONL file.

    Arrival times are seconds, shifted so the first request arrives at 0; missing lengths are
    drawn from the distributions.
    """
    path = Path(path)
    rng = random.Random(seed + 1)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WorkloadError(f"{path}: {exc}") from exc
    if path.suffix in (".jsonl", ".json"):
        rows: list[dict[str, object]] = [json.loads(line) for line in text.splitlines() if line]
    else:
        rows = list(csv.DictReader(text.splitlines()))
    requests = sorted((_row(r, prompt, output, rng) for r in rows), key=lambda r: r.arrival)
    if not requests:
        raise WorkloadError(f"{path}: empty trace")
    t0 = requests[0].arrival
    return [SimRequest(r.arrival - t0, r.prompt_tokens, r.output_tokens) for r in requests]
