"""W3C trace context on outgoing HTTP calls: httpx event hooks that write the current span (or
the caller's context a :class:`~inferstack.telemetry.asgi.TracingMiddleware` attached) as
``traceparent``, so the next hop's spans join the trace.

Usage::

    client = httpx.AsyncClient(base_url=url, event_hooks=async_hooks())
    http = openai.DefaultAsyncHttpxClient(event_hooks=async_hooks())  # for openai.AsyncOpenAI

The hooks run when the request is sent, in the sending task's context, so the span that is
current around ``await client.post(...)`` is the parent the server sees. With no span and no
caller context they add nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Protocol

from inferstack.telemetry.tracing import Telemetry

__all__ = ["async_hooks", "inject_traceparent", "sync_hooks"]


class Request(Protocol):
    """What the hooks need of a request: httpx's, or httpx2's (the ``openai`` SDK's)."""

    @property
    def headers(self) -> MutableMapping[str, str]: ...


def inject_traceparent(request: Request) -> None:
    """Set ``traceparent`` (and ``tracestate``) on ``request`` from the current context."""
    Telemetry.inject(request.headers)


async def _inject_async(request: Request) -> None:
    inject_traceparent(request)


def async_hooks() -> dict[str, list[Callable[[Request], Awaitable[None]]]]:
    """``event_hooks`` for an ``httpx.AsyncClient`` (or ``openai.DefaultAsyncHttpxClient``)."""
    return {"request": [_inject_async]}


def sync_hooks() -> dict[str, list[Callable[[Request], None]]]:
    """``event_hooks`` for an ``httpx.Client``."""
    return {"request": [inject_traceparent]}
