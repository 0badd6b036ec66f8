"""HTTP plumbing shared by the routes: bounded JSON parsing, SSE responses, disconnects."""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from inferstack.errors import InvalidRequestError, PayloadTooLargeError
from inferstack.http_errors import error_response
from inferstack.protocol import validation_error_param

__all__ = ["MAX_JSON_DEPTH", "error_response", "model_response", "read_json", "wait_disconnect"]

T = TypeVar("T", bound=BaseModel)

MAX_JSON_DEPTH = 100
"""Deepest nesting of arrays and objects accepted in a request body."""

_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_tree(data: dict[str, Any]) -> None:
    """Refuse what JSON allows but no model input can hold: lone UTF-16 surrogates
    (``"\\ud800"``: text that cannot be encoded as UTF-8) and absurd nesting. Iterative, so
    the check itself never recurses; the ``param`` names the first offending field."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(data, ())]
    while stack:
        node, path = stack.pop()
        if len(path) > MAX_JSON_DEPTH:
            raise InvalidRequestError(
                f"the request body is nested more than {MAX_JSON_DEPTH} levels deep",
                param=".".join(path[:8]) or None,
            )
        if isinstance(node, str):
            if _SURROGATE.search(node):
                raise InvalidRequestError(
                    "the text holds a lone UTF-16 surrogate (such as \\ud800), which is not a "
                    "character; send valid Unicode",
                    param=".".join(path) or None,
                )
        elif isinstance(node, dict):
            for key in node:
                if _SURROGATE.search(key):
                    raise InvalidRequestError(
                        "a field name holds a lone UTF-16 surrogate",
                        param=".".join(path) or None,
                    )
            # Reversed, so fields are checked in document order and the first one is named.
            stack.extend((node[key], (*path, key)) for key in reversed(list(node)))
        elif isinstance(node, list):
            stack.extend((node[i], (*path, str(i))) for i in reversed(range(len(node))))


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
    except ValueError as exc:
        # JSONDecodeError and UnicodeDecodeError, and int()'s refusal of numbers longer than
        # 4,300 digits, which json.loads lets through as a bare ValueError.
        raise InvalidRequestError(f"the request body is not valid JSON: {exc}") from exc
    except RecursionError:
        raise InvalidRequestError(
            f"the request body is nested more than {MAX_JSON_DEPTH} levels deep"
        ) from None
    if not isinstance(data, dict):
        raise InvalidRequestError("the request body must be a JSON object")
    _check_tree(data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        message, param = validation_error_param(exc)
        raise InvalidRequestError(message, param=param) from exc


def model_response(body: BaseModel, status: int = 200) -> Response:
    return Response(body.model_dump_json(), status_code=status, media_type="application/json")


async def wait_disconnect(request: Request) -> None:
    """Return once the client has gone away (the body must already be read)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return
