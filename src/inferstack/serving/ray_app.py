"""The model server as a Ray Serve application, for a local Ray or a KubeRay ``RayService``.

``build_app`` is the builder named by ``import_path`` in a Serve config file, so one file runs
both on a laptop (``deploy_config("serve.yaml")``) and as a RayService's ``serveConfigV2``::

    applications:
      - name: chat
        route_prefix: /
        import_path: inferstack.serving.ray_app:build_app
        args: {model: default, engine: llamacpp, threads: 2, parallel: 8, num_replicas: 1}

Each replica creates its engine through the engine registry in its constructor, starts it, and
serves the same FastAPI app as the plain server (``inferstack.serving.app.build_app``) through
``@serve.ingress``. The args are :class:`~inferstack.serving.ray_args.RayAppArgs`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI
from ray import serve
from ray.serve import Application

from inferstack.engines.base import Engine
from inferstack.serving.ray_args import RayAppArgs
from inferstack.serving.settings import ServerSettings

__all__ = ["IMPORT_PATH", "ModelServer", "build_app", "deploy_config"]

log = logging.getLogger(__name__)

IMPORT_PATH = "inferstack.serving.ray_app:build_app"


@serve.deployment
@serve.ingress()
class ModelServer:
    """One replica: an engine and the OpenAI-compatible routes in front of it."""

    async def __init__(self, args: dict[str, Any]) -> None:
        from inferstack.engines.registry import create_engine
        from inferstack.serving.ray_loopback import keep_replica_on_loopback

        keep_replica_on_loopback()  # a local Ray's replicas listen on 127.0.0.1 only
        self._args = RayAppArgs.model_validate(args)
        self._engine: Engine = create_engine(
            self._args.model, engine=self._args.engine, **self._args.engine_options()
        )
        # NOTE: started here, not in the app's lifespan, so a model that fails to load fails
        # the replica's constructor and Serve reports the deployment unhealthy.
        await self._engine.start()
        log.info("replica ready: %s on %s", self._args.model, self._args.engine)

    def __serve_build_asgi_app__(self) -> FastAPI:
        # Called by Serve after the constructor: the app wraps this replica's engine.
        from inferstack.serving.app import build_app as build_server_app

        return build_server_app(ServerSettings.from_sources(), self._engine, manage_engine=False)

    def check_health(self) -> None:
        """Serve's periodic health check: an engine that stopped fails the replica."""
        if not self._engine.ready():
            raise RuntimeError(f"engine for {self._args.model} is not ready")

    async def __del__(self) -> None:
        engine = getattr(self, "_engine", None)
        if engine is not None:
            await engine.shutdown()


def build_app(args: Mapping[str, Any]) -> Application:
    """Serve application builder (``import_path: inferstack.serving.ray_app:build_app``)."""
    parsed = RayAppArgs.model_validate(dict(args))
    deployment = ModelServer.options(name=parsed.engine, **parsed.deployment_options())
    return deployment.bind(parsed.model_dump(mode="json", exclude_none=True))


def deploy_config(config: str | Path | Mapping[str, Any]) -> list[str]:
    """Run every application of a Serve config file on the connected (local) Ray.

    The same file a KubeRay ``RayService`` carries as ``serveConfigV2``; ``http_options`` start
    the Serve proxy. Redeploying a changed file updates the applications in place (e.g.
    ``num_replicas`` 1 → 2). Returns the application names.
    """
    data = dict(config) if isinstance(config, Mapping) else yaml.safe_load(Path(config).read_text())
    http_options = dict(data.get("http_options") or {})
    serve.start(http_options=http_options or None)
    names = []
    for app in data.get("applications") or []:
        if app.get("import_path") != IMPORT_PATH:
            raise ValueError(f"application {app.get('name')!r}: import_path must be {IMPORT_PATH}")
        serve.run(
            build_app(app.get("args") or {}),
            name=app["name"],
            route_prefix=app.get("route_prefix", "/"),
            blocking=False,
        )
        names.append(app["name"])
    if not names:
        raise ValueError("the Serve config has no applications")
    return names
