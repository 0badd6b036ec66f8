"""Routing strategies: which deployment of a model group takes the next request."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol

from inferstack.gateway.deployments import Deployment

__all__ = [
    "STRATEGIES",
    "LeastOutstanding",
    "LowestLatency",
    "RoutingStrategy",
    "WeightedRandom",
    "make_strategy",
]


class RoutingStrategy(Protocol):
    def choose(self, candidates: Sequence[Deployment]) -> Deployment: ...


class WeightedRandom:
    """Pick at random in proportion to each deployment's ``weight``."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()

    def choose(self, candidates: Sequence[Deployment]) -> Deployment:
        weights = [dep.config.weight for dep in candidates]
        return self._rng.choices(list(candidates), weights=weights, k=1)[0]


class LeastOutstanding:
    """Pick the deployment with the fewest requests in flight (ties broken by weighted random)."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._tie = WeightedRandom(rng)

    def choose(self, candidates: Sequence[Deployment]) -> Deployment:
        fewest = min(dep.outstanding for dep in candidates)
        return self._tie.choose([dep for dep in candidates if dep.outstanding == fewest])


class LowestLatency:
    """Pick the deployment with the lowest latency average; unmeasured ones are tried first."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._tie = WeightedRandom(rng)

    def choose(self, candidates: Sequence[Deployment]) -> Deployment:
        unmeasured = [dep for dep in candidates if dep.latency_s is None]
        if unmeasured:
            return self._tie.choose(unmeasured)
        return min(candidates, key=lambda dep: dep.latency_s or 0.0)


STRATEGIES: dict[str, type[WeightedRandom | LeastOutstanding | LowestLatency]] = {
    "weighted": WeightedRandom,
    "least_outstanding": LeastOutstanding,
    "lowest_latency": LowestLatency,
}


def make_strategy(name: str, rng: random.Random | None = None) -> RoutingStrategy:
    return STRATEGIES[name](rng)
