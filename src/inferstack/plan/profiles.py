"""Throughput profiles: how fast one replica of a model serves, per concurrency.

A profile is data (YAML): what was measured (model, quantization, engine, instance or CPU,
threads, slots), where the figures come from (a command run here, or a publication with its
URL), and one point per concurrency with the aggregate decode rate, the inter-token latency and
the time to first token. A figure nobody has measured is left out (``None``), never guessed:
the planner refuses a profile that lacks what it needs and says which field.

``inferstack bench --profile FILE`` writes a profile from a closed-loop run
(:mod:`inferstack.bench.profile`); published figures are entered by hand with ``source.kind:
published``. The profiles shipped with inferstack are in ``plan/data/profiles/``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "Profile",
    "ProfileError",
    "ProfilePoint",
    "ProfileSource",
    "load_profile",
    "load_profiles",
    "packaged_profiles",
    "save_profile",
]


class ProfileError(ValueError):
    """A profile is missing, malformed, or lacks a figure the planner needs."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProfileSource(_Strict):
    """Where a profile's figures come from."""

    kind: Literal["measured", "published"] = Field(
        description="measured: by a committed command; published: copied from a publication"
    )
    reference: str = Field(description="the command that measured it, or the publication's URL")
    date: str | None = Field(default=None, description="when it was measured or published")
    notes: str = Field(default="", description="conditions, caveats, what was derived and how")


class ProfilePoint(_Strict):
    """What one replica does at one concurrency (closed loop: that many streams)."""

    concurrency: int = Field(ge=1, description="sequences decoded together")
    decode_tok_per_s: float = Field(gt=0, description="aggregate output tokens per second")
    itl_ms: float | None = Field(
        default=None, gt=0, description="inter-token latency p50 (one decode step), ms"
    )
    ttft_ms: float | None = Field(default=None, gt=0, description="time to first token p50, ms")
    prefill_tok_per_s: float | None = Field(
        default=None, gt=0, description="prompt tokens per second at this concurrency"
    )

    @property
    def step_s(self) -> float:
        """Seconds of one decode step at this concurrency (ITL, else concurrency / rate)."""
        if self.itl_ms is not None:
            return self.itl_ms / 1000.0
        return self.concurrency / self.decode_tok_per_s


class Profile(_Strict):
    """One model on one kind of machine with one engine: its throughput per concurrency."""

    name: str = Field(description="short unique id, e.g. gemma3-270m-q4-local-x86-2t")
    model: str = Field(description="model name as published or served")
    params_b: float | None = Field(default=None, gt=0, description="parameters, billions")
    quantization: str | None = Field(default=None, description="e.g. Q4_K_M, FP16, BF16")
    engine: str = Field(description="llama.cpp, inferstack (llama.cpp), vLLM, ...")
    hardware: Literal["cpu", "gpu"] = Field(description="what does the work")
    instance: str | None = Field(
        default=None, description="EC2 instance type the figures were measured on (priced)"
    )
    accelerators_per_instance: int = Field(
        default=1, ge=1, description="GPUs in the instance; a replica uses one of them"
    )
    replicas_per_instance: int = Field(
        default=1, ge=1, description="replicas that fit one instance as measured"
    )
    cpu: str | None = Field(default=None, description="CPU model (from /proc/cpuinfo or source)")
    threads: int | None = Field(default=None, ge=1, description="CPU threads of one replica")
    parallel: int | None = Field(default=None, ge=1, description="slots (max batch) of a replica")
    mean_prompt_tokens: float | None = Field(
        default=None, gt=0, description="mean prompt length of the measurement"
    )
    mean_output_tokens: float | None = Field(
        default=None, gt=0, description="mean output length of the measurement"
    )
    model_load_s: float | None = Field(
        default=None, ge=0, description="seconds from replica start to ready (model load)"
    )
    wake_ms: float | None = Field(
        default=None,
        ge=0,
        description="extra TTFT of a request that finds the replica idle (for wake_pause_s) over "
        "one sent right after another, same prompt; the closed loop never lets a replica idle",
    )
    wake_pause_s: float | None = Field(
        default=None, gt=0, description="how long the replica was idle when wake_ms was measured"
    )
    source: ProfileSource
    points: list[ProfilePoint] = Field(min_length=1, description="one per concurrency")

    @model_validator(mode="after")
    def _sorted_unique(self) -> Profile:
        self.points.sort(key=lambda p: p.concurrency)
        levels = [p.concurrency for p in self.points]
        if len(set(levels)) != len(levels):
            raise ValueError(f"profile {self.name}: duplicate concurrency in points")
        return self

    @property
    def max_concurrency(self) -> int:
        """The batch a replica can run: its slots, else the largest measured concurrency."""
        return self.parallel or self.points[-1].concurrency

    @property
    def peak_tok_per_s(self) -> float:
        return max(p.decode_tok_per_s for p in self.points)

    def missing(self) -> list[str]:
        """Figures the planner would like but the profile lacks (for the report)."""
        out = []
        if self.instance is None:
            out.append("instance (no price)")
        if all(p.ttft_ms is None and p.prefill_tok_per_s is None for p in self.points):
            out.append("prefill rate / TTFT")
        if all(p.itl_ms is None for p in self.points):
            out.append("ITL (derived from concurrency / rate)")
        if self.parallel is None:
            out.append("slots (largest measured concurrency used)")
        if self.points[0].concurrency > 1:
            out.append("single-stream point")
        return out


def load_profile(path: str | Path) -> Profile:
    """A profile from a YAML (or JSON) file."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return Profile.model_validate(data)
    except (OSError, yaml.YAMLError) as exc:
        raise ProfileError(f"{path}: {exc}") from exc
    except ValueError as exc:
        raise ProfileError(f"{path}: not a valid profile: {exc}") from exc


def save_profile(profile: Profile, path: str | Path) -> None:
    """Write ``profile`` as YAML (fields in declaration order, unset figures as null)."""
    text = yaml.safe_dump(profile.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
    Path(path).write_text(text, encoding="utf-8")


def packaged_profiles() -> list[Profile]:
    """The profiles shipped with inferstack (measured here, and published ones)."""
    folder = resources.files("inferstack.plan").joinpath("data/profiles")
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            try:
                out.append(Profile.model_validate(yaml.safe_load(entry.read_text("utf-8"))))
            except ValueError as exc:
                raise ProfileError(f"packaged profile {entry.name}: {exc}") from exc
    return out


def load_profiles(paths: list[str] | None = None, packaged: bool = True) -> list[Profile]:
    """The packaged profiles (unless ``packaged`` is False) followed by the given files.

    A file's profile replaces a packaged one of the same name.
    """
    by_name = {p.name: p for p in packaged_profiles()} if packaged else {}
    for path in paths or []:
        profile = load_profile(path)
        by_name[profile.name] = profile
    return list(by_name.values())
