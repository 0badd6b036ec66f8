"""Ray Serve's autoscaling policy, as the simulator applies it.

The fields are those of a Serve deployment's ``autoscaling_config`` (the chart's
``<model>.serve.autoscaling_config``); the policy is Ray Serve's default one: every control
tick the desired replica count is ``ceil(ongoing requests averaged over look_back_period_s /
target_ongoing_requests)`` (scaled by the up/down scaling factors), and a change is made only
once it has been wanted on every tick for longer than ``upscale_delay_s`` (or
``downscale_delay_s``), as Ray's decision counter does.
Scaling up from zero replicas is immediate.
"""

from __future__ import annotations

import math
from collections import deque

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Autoscaler", "AutoscalingConfig"]


class AutoscalingConfig(BaseModel):
    """A Ray Serve ``autoscaling_config`` (the subset the simulator models)."""

    model_config = ConfigDict(extra="forbid")

    min_replicas: int = Field(default=1, ge=0)
    max_replicas: int = Field(default=1, ge=1)
    initial_replicas: int | None = Field(default=None, ge=0)
    target_ongoing_requests: float = Field(default=2.0, gt=0)
    upscale_delay_s: float = Field(default=30.0, ge=0)
    downscale_delay_s: float = Field(default=600.0, ge=0)
    look_back_period_s: float = Field(default=30.0, gt=0)
    metrics_interval_s: float = Field(default=10.0, gt=0)
    upscaling_factor: float | None = Field(default=None, gt=0)
    downscaling_factor: float | None = Field(default=None, gt=0)
    smoothing_factor: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> AutoscalingConfig:
        if self.min_replicas > self.max_replicas:
            raise ValueError("min_replicas > max_replicas")
        return self

    @property
    def start_replicas(self) -> int:
        return self.min_replicas if self.initial_replicas is None else self.initial_replicas

    def chart_values(self) -> dict[str, float | int]:
        """The fields as they go under ``serve.autoscaling_config`` in the chart's values."""
        return {
            "min_replicas": self.min_replicas,
            "max_replicas": self.max_replicas,
            "target_ongoing_requests": self.target_ongoing_requests,
            "upscale_delay_s": self.upscale_delay_s,
            "downscale_delay_s": self.downscale_delay_s,
        }


class Autoscaler:
    """The decision loop: call :meth:`decide` every ``tick_s`` with the ongoing requests."""

    def __init__(self, config: AutoscalingConfig, tick_s: float = 1.0) -> None:
        self.config = config
        self.tick_s = tick_s
        self._window: deque[tuple[float, float]] = deque()
        self._counter = 0

    def _average(self, now: float, ongoing: float) -> float:
        self._window.append((now, ongoing))
        while self._window and self._window[0][0] < now - self.config.look_back_period_s:
            self._window.popleft()
        return sum(v for _, v in self._window) / len(self._window)

    def _desired(self, current: int, total: float) -> int:
        cfg = self.config
        if current == 0:
            return 1 if total > 0 else 0
        ratio = total / (cfg.target_ongoing_requests * current)
        up = cfg.upscaling_factor or cfg.smoothing_factor or 1.0
        down = cfg.downscaling_factor or cfg.smoothing_factor or 1.0
        factor = up if ratio > 1 else down
        return math.ceil(current * (1 + (ratio - 1) * factor))

    def decide(self, now: float, current: int, ongoing: float) -> int:
        """The replica count to have from now on (``current`` when nothing changes)."""
        cfg = self.config
        avg = self._average(now, ongoing)
        desired = min(max(self._desired(current, avg), cfg.min_replicas), cfg.max_replicas)
        if current == 0 and desired > 0:
            self._counter = 0
            return desired
        if desired > current:
            self._counter = max(self._counter, 0) + 1
            if self._counter * self.tick_s > cfg.upscale_delay_s:
                self._counter = 0
                return desired
        elif desired < current:
            self._counter = min(self._counter, 0) - 1
            if -self._counter * self.tick_s > cfg.downscale_delay_s:
                self._counter = 0
                return desired
        else:
            self._counter = 0
        return current
