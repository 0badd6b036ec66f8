"""Prometheus metrics of one agent service, in a registry it owns (no process-wide globals).

Names, labels and buckets come from :mod:`inferstack.telemetry.metrics` (``AgentNames``).
The agent loop, the supervisor and the weather chat report here; ``GET /metrics`` renders it.
"""

from __future__ import annotations

from typing import Literal

from prometheus_client import CollectorRegistry, generate_latest

from inferstack.telemetry.metrics import AgentNames as N

__all__ = ["AgentMetrics", "ToolOutcome"]

ToolOutcome = Literal["ok", "error", "denied"]
UNKNOWN_TOOL = "unknown"


class AgentMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.runs = N.RUNS.counter(r)
        self.steps = N.STEPS.counter(r)
        self.run_steps = N.RUN_STEPS.histogram(r)
        self.tool_calls = N.TOOL_CALLS.counter(r)
        self.tool_duration = N.TOOL_DURATION.histogram(r)
        self.queries = N.QUERIES.counter(r)

    def step(self, agent: str) -> None:
        """One model call of a run."""
        self.steps.labels(agent).inc()

    def run_ended(self, agent: str, reason: str, steps: int) -> None:
        """A run's stream ended with ``reason``; a paused run is not finished, so its steps
        are observed when its resumption ends (``steps`` counts the whole run)."""
        self.runs.labels(agent, reason).inc()
        if reason != "paused":
            self.run_steps.labels(agent).observe(steps)

    def tool_call(
        self, agent: str, tool: str, known: bool, outcome: ToolOutcome, seconds: float | None
    ) -> None:
        """A tool call's outcome; a name the agent has no tool for is labelled ``unknown`` (the
        model may invent any name: it must not become a label value)."""
        name = tool if known else UNKNOWN_TOOL
        self.tool_calls.labels(agent, name, outcome).inc()
        if seconds is not None:
            self.tool_duration.labels(agent, name).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
