"""``build_app(settings, engine)``: the model server as an ASGI app."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from inferstack.engines.base import Engine
from inferstack.http_errors import install_error_handlers
from inferstack.serving.auth import BearerTokenMiddleware
from inferstack.serving.metrics import RequestCounter
from inferstack.serving.routes import router
from inferstack.serving.settings import ServerSettings
from inferstack.serving.state import ServerState
from inferstack.telemetry.asgi import TracingMiddleware
from inferstack.telemetry.settings import TelemetrySettings
from inferstack.telemetry.tracing import Telemetry

__all__ = ["build_app"]

log = logging.getLogger(__name__)


def build_app(
    settings: ServerSettings,
    engine: Engine,
    *,
    manage_engine: bool = True,
    telemetry: Telemetry | None = None,
) -> FastAPI:
    """The model server for ``engine``.

    With ``manage_engine`` the app starts the engine on startup and shuts it down on exit;
    hosts that own the engine's lifetime themselves (Ray Serve replicas) pass ``False``.
    ``telemetry`` defaults to tracing as :class:`TelemetrySettings` and the ``OTEL_*``
    variables say (off unless configured); the app then shuts it down on exit.
    """
    own_telemetry = telemetry is None
    tel = telemetry or Telemetry.from_settings(
        TelemetrySettings(), service_name="inferstack-server"
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if manage_engine:
            await engine.start()
        try:
            yield
        finally:
            if manage_engine:
                await engine.shutdown()
            if own_telemetry:
                tel.shutdown()

    app = FastAPI(title="inferstack model server", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.inferstack = ServerState.build(
        settings, engine, created=int(time.time()), telemetry=tel
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
        )
    app.include_router(router)
    state: ServerState = app.state.inferstack
    routes = {getattr(r, "path", "") for r in router.routes}
    if settings.api_key is not None:
        app.add_middleware(BearerTokenMiddleware, token=settings.api_key.get_secret_value())
    app.add_middleware(RequestCounter, metrics=state.metrics, routes=routes)
    # NOTE: added last so it is outermost: the SERVER span covers every other layer.
    app.add_middleware(TracingMiddleware, telemetry=tel, routes=routes)
    install_error_handlers(app, log)
    return app
