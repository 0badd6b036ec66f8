"""The proxy routes' fast path: ``POST /v1/chat/completions``, ``/v1/completions`` and
``/v1/embeddings`` served before FastAPI's middleware stack.

A streamed answer is a dozen or more writes, and FastAPI's stack (its error middlewares, the
exit stack, the router and the included router, the request/response wrapper) wraps the
request in some fifteen ASGI layers and every write in three or four ``send`` wrappers. These
routes take a raw request and answer with a plain response, so they are dispatched here, to
the same handler, through only what they need, in the same order as on the full stack:

    RequestIdMiddleware → TracingMiddleware → CORSMiddleware (when configured) → ProxyEndpoint

Errors are rendered by :func:`inferstack.http_errors.exception_response`, the function
FastAPI's exception handlers use: the same OpenAI JSON bodies, status codes and headers.
Every other route (and these paths with another method) goes through FastAPI as before.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from inferstack.http_errors import exception_response

if TYPE_CHECKING:
    from inferstack.gateway.handler import OpenAIHandler

__all__ = ["FAST_ROUTES", "GatewayApp", "ProxyEndpoint"]

FAST_ROUTES = {
    "/v1/chat/completions": "/chat/completions",
    "/v1/completions": "/completions",
    "/v1/embeddings": "/embeddings",
}
"""Path → the OpenAI endpoint it proxies."""


class ProxyEndpoint:
    """The ASGI endpoint of the proxy routes: the handler's answer, or its error rendered."""

    def __init__(self, handler: OpenAIHandler, log: logging.Logger) -> None:
        self._handler = handler
        self._log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await self._handler.proxy(
                Request(scope, receive), FAST_ROUTES[scope["path"]]
            )
        except ClientDisconnect:  # gone while sending its body: no one to answer
            return
        except Exception as exc:  # the top-level handler of these routes
            response = exception_response(exc, self._log)
        await response(scope, receive, send)


class GatewayApp(FastAPI):
    """The gateway's FastAPI app; :attr:`fast_path`, when set, serves :data:`FAST_ROUTES`."""

    fast_path: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self.fast_path
        if (
            fast is not None
            and scope["type"] == "http"
            and scope["path"] in FAST_ROUTES
            and scope["method"] == "POST"
            and not scope.get("root_path")
        ):
            scope["app"] = self
            await fast(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
