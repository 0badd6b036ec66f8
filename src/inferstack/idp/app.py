"""The IDP HTTP service: document uploads (processed on arrival) and the review queue API.

Traced like every process of the stack (:class:`TelemetrySettings` and the ``OTEL_*``
variables; off by default, service ``inferstack-idp``): a SERVER span per request that
continues the caller's ``traceparent``, the pipeline's ``idp.*`` stage spans under it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from inferstack.http_errors import install_error_handlers
from inferstack.idp.extract import open_client
from inferstack.idp.metrics import IdpMetrics
from inferstack.idp.pipeline import Processor
from inferstack.idp.review import ReviewQueue
from inferstack.idp.router import router
from inferstack.idp.settings import IdpSettings
from inferstack.idp.store import IdpStore
from inferstack.telemetry.asgi import TracingMiddleware
from inferstack.telemetry.settings import TelemetrySettings
from inferstack.telemetry.tracing import Telemetry

__all__ = ["build_app"]

log = logging.getLogger(__name__)


def build_app(settings: IdpSettings, telemetry: Telemetry | None = None) -> FastAPI:
    """Uploads and the review API over ``settings``' database and chat model (opened on
    start, closed on shutdown); pipeline spans go to ``telemetry`` (default: as the
    ``OTEL_*``/``INFERSTACK_TELEMETRY_*`` settings say, service ``inferstack-idp``)."""
    tel = telemetry or Telemetry.from_settings(TelemetrySettings(), service_name="inferstack-idp")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = IdpStore(settings.resolved_database_url())
        client = open_client(settings)
        metrics = IdpMetrics(store)
        app.state.metrics = metrics
        app.state.review_queue = ReviewQueue(store, metrics)
        app.state.processor = Processor(settings, client, store, metrics=metrics, telemetry=tel)
        try:
            yield
        finally:
            client.close()
            store.close()
            if telemetry is None:
                tel.shutdown()

    app = FastAPI(title="inferstack idp", lifespan=lifespan)
    install_error_handlers(app, log)
    app.include_router(router)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    def prometheus(request: Request) -> Response:
        # a plain def: FastAPI runs it on a worker thread, where the queue count's query runs
        metrics: IdpMetrics = request.app.state.metrics
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    # NOTE: added last so it is outermost: the SERVER span covers every other layer.
    routes = {getattr(r, "path", "") for r in router.routes}
    app.add_middleware(TracingMiddleware, telemetry=tel, routes=routes)
    return app
