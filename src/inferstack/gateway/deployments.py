"""Runtime state of every upstream deployment: load, latency, failures, cooldown, RPM/TPM caps."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from inferstack.gateway.settings import DeploymentConfig, GatewaySettings

__all__ = ["Deployment", "DeploymentPool"]

_WINDOW_S = 60.0
_LATENCY_ALPHA = 0.3  # weight of the newest sample in the latency moving average


@dataclass
class Deployment:
    """One upstream and what the router knows about it right now."""

    id: str
    group: str
    config: DeploymentConfig
    model: str
    token: str | None = field(default=None, repr=False)  # bearer token sent upstream
    outstanding: int = 0
    latency_s: float | None = None  # moving average of request latency
    failures: int = 0  # consecutive
    cooldown_until: float = 0.0
    healthy: bool = True
    _window: float = field(default=0.0, repr=False)
    _window_requests: int = field(default=0, repr=False)
    _window_tokens: int = field(default=0, repr=False)

    def url(self, path: str) -> str:
        return self.config.api_base.rstrip("/") + path

    def _roll(self, now: float) -> None:
        window = now // _WINDOW_S
        if window != self._window:
            self._window, self._window_requests, self._window_tokens = window, 0, 0

    def has_capacity(self, now: float) -> bool:
        """Whether the deployment's own RPM/TPM caps leave room for one more request."""
        self._roll(now)
        if self.config.rpm is not None and self._window_requests >= self.config.rpm:
            return False
        return not (self.config.tpm is not None and self._window_tokens >= self.config.tpm)

    def count_request(self, now: float) -> None:
        self._roll(now)
        self._window_requests += 1

    def count_tokens(self, now: float, tokens: int) -> None:
        self._roll(now)
        self._window_tokens += tokens


class DeploymentPool:
    """All deployments by model group, and the bookkeeping that routing decisions read."""

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._router = settings.router
        self._clock = clock
        self._wall_clock = wall_clock
        self.groups: dict[str, list[Deployment]] = {}
        for group, spec in settings.model_groups.items():
            self.groups[group] = [
                Deployment(
                    id=dep.name or f"{group}/{index}",
                    group=group,
                    config=dep,
                    model=dep.model or group,
                    token=dep.bearer_token(),
                )
                for index, dep in enumerate(spec.deployments)
            ]

    def add(self, dep: Deployment) -> None:
        """Serve ``dep`` from now on (a deployment added at run time)."""
        self.remove(dep.id)
        self.groups.setdefault(dep.group, []).append(dep)

    def remove(self, dep_id: str) -> Deployment | None:
        """Stop routing to deployment ``dep_id``; calls already on it finish there."""
        for group, deps in list(self.groups.items()):
            for dep in deps:
                if dep.id == dep_id:
                    deps.remove(dep)
                    if not deps:
                        del self.groups[group]
                    return dep
        return None

    def get(self, dep_id: str) -> Deployment | None:
        return next((dep for dep in self.all() if dep.id == dep_id), None)

    def all(self) -> list[Deployment]:
        return [dep for deps in self.groups.values() for dep in deps]

    def candidates(self, group: str, exclude: set[str] = frozenset()) -> list[Deployment]:  # type: ignore[assignment]
        """Deployments of ``group`` that are healthy, not cooling down and under their caps."""
        now, wall = self._clock(), self._wall_clock()
        return [
            dep
            for dep in self.groups.get(group, [])
            if dep.id not in exclude
            and dep.healthy
            and dep.cooldown_until <= now
            and dep.has_capacity(wall)
        ]

    def why_unavailable(self, group: str) -> tuple[str, float | None]:
        """A reason for an empty candidate list, and seconds until one may be back."""
        deps = self.groups.get(group, [])
        now, wall = self._clock(), self._wall_clock()
        if deps and all(not dep.has_capacity(wall) for dep in deps):
            return "at capacity (deployment RPM/TPM caps)", _WINDOW_S - wall % _WINDOW_S
        waits = [dep.cooldown_until - now for dep in deps if dep.cooldown_until > now]
        return "cooling down or failing health checks", min(waits) if waits else None

    def started(self, dep: Deployment) -> None:
        dep.outstanding += 1
        dep.count_request(self._wall_clock())

    def finished(self, dep: Deployment, tokens: int = 0) -> None:
        dep.outstanding -= 1
        if tokens:
            dep.count_tokens(self._wall_clock(), tokens)

    def succeeded(self, dep: Deployment, latency_s: float) -> None:
        dep.failures = 0
        dep.latency_s = (
            latency_s
            if dep.latency_s is None
            else _LATENCY_ALPHA * latency_s + (1 - _LATENCY_ALPHA) * dep.latency_s
        )

    def failed(self, dep: Deployment) -> None:
        """Count an upstream fault; after ``allowed_fails`` in a row the deployment cools down.

        Only faults of the deployment itself come here (see ``Proxy._route``): a request that
        fails the same way everywhere is the request's problem, not the deployment's.
        """
        dep.failures += 1
        if dep.failures >= self._router.allowed_fails and self._router.cooldown_s > 0:
            dep.cooldown_until = self._clock() + self._router.cooldown_s

    def cooling_down(self, dep: Deployment) -> bool:
        """Whether ``dep`` rests after failures right now."""
        return dep.cooldown_until > self._clock()

    def cooldown_left(self, dep: Deployment) -> float | None:
        """When (Unix time) ``dep``'s cooldown ends, or None when it is not cooling down."""
        left = dep.cooldown_until - self._clock()
        return self._wall_clock() + left if left > 0 else None

    def set_health(self, dep: Deployment, healthy: bool) -> None:
        """Record a probe; a deployment that answers it starts with a clean slate.

        A healthy probe also ends a cooldown: a cooldown is a guess that the deployment is
        broken, and the probe is a direct answer.
        """
        if healthy:
            dep.failures = 0
            dep.cooldown_until = 0.0
        dep.healthy = healthy
