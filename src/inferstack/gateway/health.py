"""Active health checks: probe every deployment; a failing one is routed around until it answers."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx

from inferstack.gateway.deployments import Deployment, DeploymentPool
from inferstack.gateway.settings import HealthCheckSettings

__all__ = ["HealthChecker"]

logger = logging.getLogger(__name__)


class HealthChecker:
    def __init__(
        self, pool: DeploymentPool, client: httpx.AsyncClient, settings: HealthCheckSettings
    ) -> None:
        self._pool = pool
        self._client = client
        self._settings = settings
        self._task: asyncio.Task[None] | None = None

    async def probe(self, dep: Deployment) -> bool:
        headers = {}
        if dep.token is not None:
            headers["Authorization"] = f"Bearer {dep.token}"
        try:
            response = await self._client.get(
                dep.url(self._settings.path), headers=headers, timeout=self._settings.timeout_s
            )
        except httpx.HTTPError as exc:
            logger.debug("health probe of %s failed: %r", dep.id, exc)
            return False
        return response.status_code < 500

    async def check_once(self) -> dict[str, bool]:
        """Probe every deployment now; returns deployment id → healthy."""
        deps = self._pool.all()
        results = await asyncio.gather(*(self.probe(dep) for dep in deps))
        for dep, healthy in zip(deps, results, strict=True):
            if dep.healthy != healthy:
                logger.warning("deployment %s is %s", dep.id, "healthy" if healthy else "DOWN")
            self._pool.set_health(dep, healthy)
        return {dep.id: healthy for dep, healthy in zip(deps, results, strict=True)}

    async def _run(self) -> None:
        while True:
            await self.check_once()
            await asyncio.sleep(self._settings.interval_s)

    def start(self) -> None:
        if self._settings.enabled:  # deployments may be added at run time
            self._task = asyncio.create_task(self._run(), name="gateway-health-checks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
