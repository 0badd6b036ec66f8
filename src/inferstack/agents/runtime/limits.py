"""The bounds of one agent run."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["Limits"]


class Limits(BaseModel):
    """Every run stops at the first bound it reaches; none is optional."""

    max_steps: int = Field(default=8, ge=1, le=100, description="Model calls per run.")
    max_tokens: int = Field(default=16384, ge=1, description="Prompt + completion tokens per run.")
    max_seconds: float = Field(
        default=300.0, gt=0, description="Wall time per run (model calls, tools)."
    )
    step_max_tokens: int = Field(default=256, ge=1, description="max_tokens of each model call.")
    tool_timeout: float = Field(default=30.0, gt=0, description="Seconds one tool call may take.")
