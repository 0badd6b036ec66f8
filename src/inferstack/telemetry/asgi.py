"""ASGI middleware: one SERVER span per HTTP request, continuing the caller's W3C trace.

Plain ASGI (not ``BaseHTTPMiddleware``), so streamed bodies pass straight through and the span
ends when the last byte has been sent. The caller's ``traceparent`` becomes the span's parent;
with tracing off the caller's context is still attached, so it reaches the next hop unchanged.
"""

from __future__ import annotations

from collections.abc import Collection

from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inferstack.telemetry.semconv import Attr
from inferstack.telemetry.tracing import Telemetry

__all__ = ["TracingMiddleware"]

_UNTRACED = frozenset({"/health", "/ready", "/metrics"})


class TracingMiddleware:
    """Trace every HTTP request except probes and scrapes (``/health``, ``/ready``,
    ``/metrics``). ``routes`` are the paths named in span names and ``http.route``, templates
    included (``/v1/idp/documents/{document_id}``); others read ``other``."""

    def __init__(
        self,
        app: ASGIApp,
        telemetry: Telemetry,
        routes: Collection[str] = (),
        untraced: Collection[str] = _UNTRACED,
    ) -> None:
        self.app = app
        self.telemetry = telemetry
        self.routes = frozenset(r for r in routes if "{" not in r)
        self.templates = [(compile_path(r)[0], r) for r in sorted(routes) if "{" in r]
        self.untraced = frozenset(untraced)

    def route(self, path: str) -> str:
        """The route ``path`` matches (its template), or ``other``."""
        if path in self.routes:
            return path
        return next((t for pattern, t in self.templates if pattern.match(path)), "other")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.untraced:
            await self.app(scope, receive, send)
            return
        carrier = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in scope["headers"]
            if k in (b"traceparent", b"tracestate")
        }
        parent = self.telemetry.extract(carrier) if carrier else None
        if not self.telemetry.enabled:
            token = otel_context.attach(parent) if parent is not None else None
            try:
                await self.app(scope, receive, send)
            finally:
                if token is not None:
                    otel_context.detach(token)
            return
        await self._traced(scope, receive, send, parent)

    async def _traced(
        self, scope: Scope, receive: Receive, send: Send, parent: otel_context.Context | None
    ) -> None:
        path = scope["path"]
        route = self.route(path)
        method = scope.get("method", "GET")
        status = {"code": 500}

        async def send_traced(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        with self.telemetry.tracer.start_as_current_span(
            f"{method} {route}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={Attr.HTTP_METHOD: method, Attr.URL_PATH: path, Attr.HTTP_ROUTE: route},
        ) as span:
            try:
                await self.app(scope, receive, send_traced)
            finally:
                span.set_attribute(Attr.HTTP_STATUS, status["code"])
                if status["code"] >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                    span.set_attribute(Attr.ERROR_TYPE, str(status["code"]))
