"""One streamed request to an OpenAI-compatible server, recorded as a timeline.

Speaks plain HTTP through httpx; parses the SSE stream itself (``data:`` lines, ``[DONE]``).
Output tokens come from the usage chunk (``stream_options.include_usage``); a server that
sends none gets its text chunks counted instead, and the record says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
from pydantic import BaseModel, Field

from inferstack.bench.records import ErrorKind, RequestRecord, TokenSource

__all__ = ["DRAIN_S", "Target", "discover_model", "make_client", "send"]

DRAIN_S = 1.0
"""How long a request reads the rest of a stream after ``[DONE]`` to keep its connection."""


class Target(BaseModel):
    """A server under test."""

    name: str = Field(description="label in the report")
    base_url: str = Field(description="OpenAI base URL, ending in /v1")
    api_key: str | None = Field(default=None, description="sent as `Authorization: Bearer`")
    pid: int | None = Field(default=None, description="process to sample CPU from, if local")
    model: str | None = Field(default=None, description="model id to request (None: discover)")
    extra_body: dict[str, Any] = Field(
        default_factory=dict,
        description="request fields of this target only, over the workload's (see variants)",
    )

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}


def make_client(max_connections: int, timeout_s: float) -> httpx.AsyncClient:
    """An httpx client sized for ``max_connections`` concurrent streams."""
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0))
    return httpx.AsyncClient(limits=limits, timeout=timeout)


async def discover_model(client: httpx.AsyncClient, target: Target) -> str | None:
    """The first model id the target lists at ``/v1/models``, or None if it lists none."""
    try:
        response = await client.get(
            target.base_url.rstrip("/") + "/models", headers=target.headers()
        )
        data = response.json().get("data") if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    if isinstance(data, list) and data and isinstance(data[0], dict) and data[0].get("id"):
        return str(data[0]["id"])
    return None


def _chunk_text(event: dict[str, Any]) -> str:
    choices = event.get("choices") or []
    if not choices:
        return ""
    choice = choices[0]
    delta = choice.get("delta")
    if isinstance(delta, dict):
        return (
            (delta.get("content") or "")
            + (delta.get("reasoning_content") or "")
            + _tool_call_text(delta.get("tool_calls"))
        )
    return choice.get("text") or ""


def _tool_call_text(calls: object) -> str:
    """What a tool-call delta streams (name and argument pieces): output like any text."""
    if not isinstance(calls, list):
        return ""
    parts: list[str] = []
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            parts += [str(function.get("name") or ""), str(function.get("arguments") or "")]
    return "".join(parts)


def _status_kind(status: int) -> ErrorKind:
    if status == 429:
        return ErrorKind.HTTP_429
    return ErrorKind.HTTP_5XX if status >= 500 else ErrorKind.HTTP_4XX


def _apply_event(record: RequestRecord, event: dict[str, Any], now: float) -> None:
    if "error" in event:
        record.error = ErrorKind.STREAM
        record.detail = json.dumps(event["error"])[:300]
        return
    if _chunk_text(event):
        record.chunk_times.append(now)
    usage = event.get("usage")
    if isinstance(usage, dict) and usage.get("completion_tokens") is not None:
        record.output_tokens = int(usage["completion_tokens"])
        if usage.get("prompt_tokens") is not None:
            record.prompt_tokens = int(usage["prompt_tokens"])
        record.token_source = TokenSource.USAGE


async def _read_stream(response: httpx.Response, record: RequestRecord) -> bool:
    """Consume the SSE stream into ``record``; True when it ended with ``[DONE]``."""
    lines = response.aiter_lines()
    async for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            await _drain(lines)
            return True
        now = time.perf_counter()
        try:
            event = json.loads(data)
        except json.JSONDecodeError:
            event = None
        if not isinstance(event, dict):
            record.error, record.detail = ErrorKind.STREAM, f"bad SSE data: {data[:200]}"
            return False
        _apply_event(record, event, now)
        if record.error is not None:
            return False
    return False


async def _drain(lines: AsyncIterator[str]) -> None:
    """Read what follows ``[DONE]`` (the end of the chunked body), like the ``openai`` SDK.

    NOTE: an HTTP/1.1 response closed before its end cannot go back to the pool: without this
    every request would dial a new connection, which real clients do not.
    """
    with contextlib.suppress(httpx.HTTPError, TimeoutError):
        async with asyncio.timeout(DRAIN_S):
            async for _ in lines:
                pass


async def send(
    client: httpx.AsyncClient,
    target: Target,
    path: str,
    body: dict[str, Any],
    record: RequestRecord,
) -> RequestRecord:
    """POST ``body`` to ``target`` + ``path`` as a stream and fill ``record``.

    ``record.start`` must be set by the caller (just before the call). On cancellation the
    record is marked ``cancelled`` and the cancellation propagates.
    """
    url = target.base_url.rstrip("/") + path
    try:
        async with client.stream("POST", url, json=body, headers=target.headers()) as response:
            record.status = response.status_code
            if response.status_code >= 400:
                raw = await response.aread()
                record.error = _status_kind(response.status_code)
                record.detail = raw.decode("utf-8", "replace")[:300]
            else:
                done = await _read_stream(response, record)
                if not done and record.error is None:
                    record.error, record.detail = ErrorKind.STREAM, "stream ended without [DONE]"
    except asyncio.CancelledError:
        record.error, record.end = ErrorKind.CANCELLED, time.perf_counter()
        raise
    except httpx.TimeoutException as exc:
        record.error, record.detail = ErrorKind.TIMEOUT, repr(exc)
    except httpx.ConnectError as exc:
        record.error, record.detail = ErrorKind.CONNECT, repr(exc)
    except (httpx.TransportError, httpx.DecodingError) as exc:
        record.error, record.detail = ErrorKind.STREAM, repr(exc)
    record.end = time.perf_counter()
    if record.token_source is TokenSource.CHUNKS:
        record.output_tokens = len(record.chunk_times)
    return record
