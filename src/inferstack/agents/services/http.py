"""HTTP plumbing of the agent services: bounded JSON bodies validated into models, OpenAI-style
error bodies with real status codes, server-sent events."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ValidationError

from inferstack.errors import InferstackError, InvalidRequestError, PayloadTooLargeError, error_body
from inferstack.protocol import validation_error_param

__all__ = ["install_error_handlers", "read_json", "sse_response"]

logger = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)


async def read_json(request: Request, model: type[T], *, max_bytes: int) -> T:
    """At most ``max_bytes`` of JSON body validated into ``model``; a 400 naming the param."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise PayloadTooLargeError(f"request body exceeds {max_bytes} bytes")
    if not body:
        raise InvalidRequestError("the request body is empty; expected a JSON object")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequestError(f"the request body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidRequestError("the request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        message, param = validation_error_param(exc)
        raise InvalidRequestError(message, param=param) from exc


def install_error_handlers(app: FastAPI) -> None:
    async def inferstack_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, InferstackError)
        if exc.status >= 500:
            logger.warning("%s: %s", type(exc).__name__, exc.message)
        return JSONResponse(error_body(exc), status_code=exc.status, headers=exc.headers)

    async def query_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        param = ".".join(str(p) for p in first["loc"][1:]) or None
        err = InvalidRequestError(f"{param}: {first['msg']}", param=param)
        return JSONResponse(error_body(err), status_code=400)

    app.add_exception_handler(InferstackError, inferstack_error)
    app.add_exception_handler(RequestValidationError, query_error)


def sse_response(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
