"""The one exception hierarchy of inferstack, and the one place it becomes an OpenAI error body.

::

    InferstackError (500 server_error)
    ├── InvalidRequestError (400 invalid_request_error)
    │   ├── ContextLengthError (400, code context_length_exceeded)
    │   └── UnsupportedFeatureError (400, code unsupported)
    ├── AuthenticationError (401 authentication_error)
    ├── PermissionDeniedError (403 permission_error)
    ├── NotFoundError (404 not_found_error; model_not_found and friends)
    ├── RequestTimeoutError (408 timeout_error: the request ran past its deadline)
    ├── PayloadTooLargeError (413 invalid_request_error)
    ├── RateLimitError (429 rate_limit_error, optional Retry-After)
    │   └── OverloadedError (429, code overloaded: the server's wait queue is full)
    ├── ClientClosedError (499 client_closed: the client left before the answer; nobody reads it)
    ├── EngineError (500 server_error: the engine failed on a valid request)
    ├── UpstreamError (502 upstream_error: a proxied server failed)
    └── ServiceUnavailableError (503 service_unavailable: not ready, shutting down, no upstream)

Every error carries ``status``, ``type``, ``param`` and ``code``. :func:`error_body` renders the
JSON body, :func:`error_sse` the server-sent event used once a stream has started.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "AuthenticationError",
    "ClientClosedError",
    "ContextLengthError",
    "EngineError",
    "InferstackError",
    "InvalidRequestError",
    "NotFoundError",
    "OverloadedError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTimeoutError",
    "ServiceUnavailableError",
    "UnsupportedFeatureError",
    "UpstreamError",
    "error_body",
    "error_sse",
]


class InferstackError(Exception):
    """Base of every error inferstack reports to a client."""

    status: int = 500
    type: str = "server_error"
    default_code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code
        self.headers: dict[str, str] = dict(headers or {})


class InvalidRequestError(InferstackError):
    """The request is malformed or asks for something impossible."""

    status = 400
    type = "invalid_request_error"


class ContextLengthError(InvalidRequestError):
    """The prompt (plus the requested output) does not fit the model's context."""

    default_code = "context_length_exceeded"


class UnsupportedFeatureError(InvalidRequestError):
    """A well-formed request uses a feature this server does not implement."""

    default_code = "unsupported"


class AuthenticationError(InferstackError):
    status = 401
    type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDeniedError(InferstackError):
    status = 403
    type = "permission_error"


class NotFoundError(InferstackError):
    status = 404
    type = "not_found_error"


class RequestTimeoutError(InferstackError):
    """The request ran past the server's per-request deadline (queue wait plus generation)."""

    status = 408
    type = "timeout_error"
    default_code = "request_timeout"


class PayloadTooLargeError(InferstackError):
    status = 413
    type = "invalid_request_error"
    default_code = "payload_too_large"


class RateLimitError(InferstackError):
    """Too many requests; ``retry_after`` (seconds) becomes the Retry-After header."""

    status = 429
    type = "rate_limit_error"
    default_code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        if retry_after is not None:
            self.headers.setdefault("Retry-After", str(max(1, round(retry_after))))


class OverloadedError(RateLimitError):
    """Admission control refused the request before any work started."""

    default_code = "overloaded"


class ClientClosedError(InferstackError):
    """The client disconnected before its answer was ready (nginx's 499). Nobody reads the
    response; the status shows up in the request metrics."""

    status = 499
    type = "client_closed"
    default_code = "client_closed_request"


class EngineError(InferstackError):
    """The engine failed while serving a valid request."""


class UpstreamError(InferstackError):
    status = 502
    type = "upstream_error"


class ServiceUnavailableError(InferstackError):
    status = 503
    type = "service_unavailable"


def error_body(exc: InferstackError) -> dict[str, Any]:
    """The OpenAI error body for ``exc``: ``{"error": {message, type, param, code}}``."""
    return {
        "error": {
            "message": exc.message,
            "type": exc.type,
            "param": exc.param,
            "code": exc.code,
        }
    }


def error_sse(exc: InferstackError) -> str:
    """The server-sent event that reports ``exc`` after a stream has started."""
    return f"data: {json.dumps(error_body(exc))}\n\n"
