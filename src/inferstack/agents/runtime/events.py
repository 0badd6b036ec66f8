"""What an agent run reports while it works: one event per model turn and per tool result,
then one final event (the answer, or the calls waiting for approval when it paused)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "AgentEvent",
    "CallRecord",
    "FinalEvent",
    "ModelTurnEvent",
    "StopReason",
    "ToolResultEvent",
]

StopReason = Literal["stop", "max_steps", "max_tokens", "max_time", "paused", "error"]


class CallRecord(BaseModel):
    id: str
    name: str
    arguments: str


class ModelTurnEvent(BaseModel):
    type: Literal["model_turn"] = "model_turn"
    run_id: str
    step: int
    content: str | None = None
    tool_calls: list[CallRecord] = Field(default_factory=list)
    finish_reason: str | None = None
    tokens: int = 0


class ToolResultEvent(BaseModel):
    type: Literal["tool_result"] = "tool_result"
    run_id: str
    step: int
    call_id: str
    name: str
    arguments: str
    output: str
    data: Any = None
    is_error: bool = False


class FinalEvent(BaseModel):
    type: Literal["final"] = "final"
    run_id: str
    session_id: str
    answer: str
    reason: StopReason
    steps: int
    tokens: int
    tool_results: list[ToolResultEvent] = Field(default_factory=list)
    pending: list[CallRecord] = Field(default_factory=list)


AgentEvent = ModelTurnEvent | ToolResultEvent | FinalEvent
