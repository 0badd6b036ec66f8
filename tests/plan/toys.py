"""Builders for the planner's tests: profiles with step times that make answers exact."""

from __future__ import annotations

from typing import Any

from inferstack.plan.profiles import Profile


def make_profile(**overrides: Any) -> Profile:
    """A CPU-like profile: 20 ms steps alone, 40 ms at 4, 80 ms at 8; 10 prompt tokens cost
    10 ms more than a step (TTFT(1) = 30 ms)."""
    data: dict[str, Any] = {
        "name": "toy",
        "model": "toy-1b",
        "params_b": 1.0,
        "engine": "toy",
        "hardware": "cpu",
        "instance": "c8g.xlarge",
        "parallel": 8,
        "mean_prompt_tokens": 10,
        "source": {"kind": "measured", "reference": "test"},
        "points": [
            {"concurrency": 1, "decode_tok_per_s": 50, "itl_ms": 20, "ttft_ms": 30},
            {"concurrency": 4, "decode_tok_per_s": 100, "itl_ms": 40},
            {"concurrency": 8, "decode_tok_per_s": 100, "itl_ms": 80},
        ],
    }
    data.update(overrides)
    return Profile.model_validate(data)
