"""Typed settings of a benchmark run, and the reference benchmark's environment variables.

Every run is bounded: a request cap and a time cap always apply, whatever the levels say.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_CONCURRENCY", "LoopMode", "ReferenceEnv", "RunConfig"]

DEFAULT_CONCURRENCY = (1, 2, 4, 8, 16, 32)
SLO_FAMILIES = ("ttft", "itl", "tpot", "e2e")
SLO_STATS = ("p50", "p90", "p99", "mean")


class LoopMode(StrEnum):
    """How load is offered."""

    CLOSED = "closed"
    """N streams, each sending its next request when the previous one ends (levels = N)."""
    OPEN = "open"
    """Poisson arrivals at a fixed rate whatever the server does (levels = requests/s)."""


class RunConfig(BaseModel):
    """How a run ramps, when it stops, and its hard caps."""

    mode: LoopMode = Field(default=LoopMode.CLOSED, description="closed-loop ramp or open loop")
    levels: list[float] = Field(
        default=list(DEFAULT_CONCURRENCY),
        min_length=1,
        description="concurrencies (closed loop) or request rates per second (open loop)",
    )
    requests_per_level: int | None = Field(
        default=64, ge=1, description="measured requests per level (None: use duration_s)"
    )
    duration_s: float | None = Field(
        default=None,
        gt=0,
        description="seconds of new requests per level (with or instead of a count)",
    )
    warmup_requests: int | None = Field(
        default=None,
        ge=0,
        description="unmeasured requests before each level (default: one per stream)",
    )
    min_gain: float = Field(
        default=0.05, ge=0, description="stop when tok/s grows less than this fraction (0: off)"
    )
    slo_ms: dict[str, float] = Field(
        default_factory=dict,
        description="latency limits such as {'ttft_p90': 2000}; a broken one ends the ramp",
    )
    max_error_rate: float = Field(
        default=0.1, ge=0, le=1, description="stop when a level's failed fraction exceeds this"
    )
    max_total_requests: int = Field(
        default=5000, ge=1, description="hard cap on requests sent in the whole run"
    )
    max_run_s: float = Field(default=1800.0, gt=0, description="hard cap on the run's wall time")
    request_timeout_s: float = Field(default=300.0, gt=0, description="per-request timeout")
    max_in_flight: int = Field(
        default=256, ge=1, description="open loop: most requests outstanding at once"
    )
    price_per_hour: float | None = Field(
        default=None, gt=0, description="$ per hour of the serving capacity, for cost per 1M tokens"
    )
    seed: int = Field(default=0, description="seed of Poisson arrivals and synthetic prompts")

    @field_validator("levels")
    @classmethod
    def _positive_levels(cls, levels: list[float]) -> list[float]:
        if any(level <= 0 for level in levels):
            raise ValueError("levels must be positive")
        return levels

    @field_validator("slo_ms")
    @classmethod
    def _known_slos(cls, slo: dict[str, float]) -> dict[str, float]:
        for name in slo:
            family, _, stat = name.partition("_")
            if family not in SLO_FAMILIES or stat not in SLO_STATS:
                raise ValueError(
                    f"unknown SLO metric {name!r}; use FAMILY_STAT with FAMILY in "
                    f"{SLO_FAMILIES} and STAT in {SLO_STATS}, e.g. ttft_p90"
                )
        return slo

    @model_validator(mode="after")
    def _bounded(self) -> RunConfig:
        if self.requests_per_level is None and self.duration_s is None:
            raise ValueError("each level needs requests_per_level or duration_s")
        if self.mode is LoopMode.CLOSED and any(level != int(level) for level in self.levels):
            raise ValueError("closed-loop levels are whole numbers of streams")
        return self

    def warmup_for(self, level: float) -> int:
        """Unmeasured requests before ``level``."""
        if self.warmup_requests is not None:
            return self.warmup_requests
        return int(level) if self.mode is LoopMode.CLOSED else 2


class ReferenceEnv(BaseSettings):
    """The reference solution's benchmark variables, understood for compatibility.

    ``URL`` is the server (a base URL or a full ``…/completions`` endpoint URL);
    ``REQUESTS_PER_PROMPT`` sends every prompt that many times per level;
    ``NUM_WARMUP_REQUESTS`` is the warm-up count.
    """

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=True)

    URL: str | None = Field(default=None, description="target server URL")
    REQUESTS_PER_PROMPT: int | None = Field(default=None, ge=1, description="sends per prompt")
    NUM_WARMUP_REQUESTS: int | None = Field(default=None, ge=0, description="warm-up requests")
