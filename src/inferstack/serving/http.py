"""HTTP plumbing shared by the routes: bounded JSON parsing, SSE responses, disconnects."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ValidationError

from inferstack.errors import InferstackError, InvalidRequestError, PayloadTooLargeError, error_body
from inferstack.protocol import validation_error_param

__all__ = ["error_response", "model_response", "read_json", "sse_response", "wait_disconnect"]

T = TypeVar("T", bound=BaseModel)


async def read_json(request: Request, model: type[T], *, max_bytes: int) -> T:
    """Read at most ``max_bytes`` of body, parse JSON, validate into ``model``.

    Every client mistake becomes an :class:`InvalidRequestError` naming the ``param``.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLargeError(f"request body exceeds {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLargeError(f"request body exceeds {max_bytes} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
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


def model_response(body: BaseModel, status: int = 200) -> Response:
    return Response(body.model_dump_json(), status_code=status, media_type="application/json")


def error_response(exc: InferstackError) -> JSONResponse:
    return JSONResponse(error_body(exc), status_code=exc.status, headers=exc.headers)


def sse_response(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def wait_disconnect(request: Request) -> None:
    """Return once the client has gone away (the body must already be read)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return
