"""The one place the HTTP apps (model server and gateway) turn exceptions into OpenAI errors.

:mod:`inferstack.errors` renders an error body; this module maps what reaches a FastAPI app to
those errors: our own hierarchy, request validation, Starlette's HTTP errors (unknown route,
wrong method) and, as the last resort, any unexpected exception, which becomes a JSON 500
``server_error`` instead of Starlette's plain-text page.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from inferstack.errors import (
    InferstackError,
    InvalidRequestError,
    NotFoundError,
    error_body,
)

__all__ = ["error_response", "exception_response", "install_error_handlers"]


def error_response(exc: InferstackError) -> JSONResponse:
    """The OpenAI error body of ``exc`` with its status and headers."""
    return JSONResponse(error_body(exc), status_code=exc.status, headers=exc.headers)


def exception_response(exc: Exception, log: logging.Logger) -> JSONResponse:
    """What a request that raised ``exc`` answers: its OpenAI error, or a JSON 500 for anything
    unexpected (logged with its traceback). Apps that serve a route outside FastAPI's stack
    (the gateway's proxy fast path) render their errors here too."""
    if isinstance(exc, InferstackError):
        if exc.status >= 500:
            log.error("request failed: %s", exc.message)
        return error_response(exc)
    log.exception("unexpected error", exc_info=exc)
    return error_response(InferstackError(f"internal error: {type(exc).__name__}"))


def _validation_param(exc: RequestValidationError) -> str | None:
    first = exc.errors()[0] if exc.errors() else {}
    return ".".join(str(p) for p in first.get("loc", ())[1:]) or None


def install_error_handlers(app: FastAPI, log: logging.Logger) -> None:
    """Every error ``app`` raises leaves it as an OpenAI error body (JSON, real status)."""

    @app.exception_handler(InferstackError)
    async def on_inferstack_error(_: Request, exc: InferstackError) -> Response:
        return exception_response(exc, log)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(_: Request, exc: RequestValidationError) -> Response:
        return error_response(InvalidRequestError(str(exc), param=_validation_param(exc)))

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_response(NotFoundError(f"no route {request.method} {request.url.path}"))
        err = InvalidRequestError(
            f"method {request.method} not allowed here"
            if exc.status_code == 405
            else str(exc.detail)
        )
        err.status = exc.status_code
        return error_response(err)

    @app.exception_handler(Exception)
    async def on_unexpected(_: Request, exc: Exception) -> Response:  # top-level handler
        return exception_response(exc, log)
