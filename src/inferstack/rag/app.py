"""``build_app(settings)``: the RAG service as an ASGI app (``inferstack rag serve``).

Traced like every process of the stack (:class:`TelemetrySettings` and the ``OTEL_*``
variables; off by default, service ``inferstack-rag``): a SERVER span per request that
continues the caller's ``traceparent``, and under it the retrieval, embeddings and chat spans,
whose HTTP calls carry the trace on to the gateway and the model servers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException as StarletteHTTPException

from inferstack.errors import (
    EngineError,
    InferstackError,
    InvalidRequestError,
    NotFoundError,
    error_body,
)
from inferstack.rag.answer import Answerer
from inferstack.rag.metrics import RagMetrics
from inferstack.rag.retrieve import KnowledgeBase, open_knowledge_base
from inferstack.rag.router import build_router
from inferstack.rag.service import RagService
from inferstack.rag.settings import RagSettings
from inferstack.telemetry.asgi import TracingMiddleware
from inferstack.telemetry.settings import TelemetrySettings
from inferstack.telemetry.tracing import Telemetry

__all__ = ["build_app"]

log = logging.getLogger(__name__)


ROUTES = ("/v1/rag/query", "/v1/rag/retrieve", "/v1/rag/documents", "/v1/rag/stats")


def build_app(
    settings: RagSettings,
    kb: KnowledgeBase | None = None,
    answerer: Answerer | None = None,
    telemetry: Telemetry | None = None,
) -> FastAPI:
    """The RAG service; ``kb`` and ``answerer`` are injected in tests (otherwise built from
    ``settings`` when the app starts, tracing to ``telemetry``: default as the telemetry
    settings say, shut down with the app)."""
    metrics = RagMetrics()
    own_telemetry = telemetry is None
    tel = telemetry or Telemetry.from_settings(TelemetrySettings(), service_name="inferstack-rag")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        base = kb or open_knowledge_base(settings, tracer=tel.tracer)
        answers = answerer or Answerer(base, tracer=tel.tracer)
        app.state.rag = RagService(
            base, answers, metrics, tracer=tel.tracer, record_content=tel.record_content
        )
        try:
            yield
        finally:
            await answers.aclose()
            await base.aclose()
            if own_telemetry:
                tel.shutdown()

    app = FastAPI(title="inferstack rag", lifespan=lifespan)
    app.state.telemetry = tel
    app.include_router(build_router())
    _error_handlers(app)
    # NOTE: added last so it is outermost: the SERVER span covers every other layer.
    app.add_middleware(TracingMiddleware, telemetry=tel, routes=ROUTES)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready(request: Request) -> dict[str, object]:
        return await request.app.state.rag.stats()  # type: ignore[no-any-return]

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return app


def _error(exc: InferstackError) -> JSONResponse:
    return JSONResponse(error_body(exc), status_code=exc.status, headers=exc.headers)


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InferstackError)
    async def on_error(_: Request, exc: InferstackError) -> Response:
        if exc.status >= 500:
            log.error("request failed: %s", exc.message)
        return _error(exc)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p != "body"]
        param = ".".join(loc) or None
        message = f"{param}: {first.get('msg')}" if param else str(first.get("msg", exc))
        return _error(InvalidRequestError(message, param=param))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return _error(NotFoundError(f"no route {request.method} {request.url.path}"))
        err = InvalidRequestError(str(exc.detail))
        err.status = exc.status_code
        return _error(err)

    @app.exception_handler(Exception)
    async def on_unexpected(_: Request, exc: Exception) -> Response:  # top-level handler
        log.exception("unexpected error")
        return _error(EngineError(f"internal error: {type(exc).__name__}"))
