"""Streaming passthrough: relay the upstream's server-sent events chunk by chunk.

Each upstream chunk becomes one write to the client as soon as it arrives; only an event cut
in half by the network waits for its end. The relay reads the final usage chunk (which the
gateway always asks for) and drops it again when the client did not ask for it. A client that
goes away before that chunk is charged for what was relayed: one token per content event, the
prompt estimated from its size, and the upstream time so far.

A stream ends for the client at ``[DONE]``. The relay then reads what is left of the upstream
response for at most :data:`DRAIN_S` (normally just the end of its chunked body), so the
connection goes back to the pool instead of being torn down and dialled again for the next
request; an upstream that keeps the connection open past that is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import httpx
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from inferstack.errors import InferstackError, UpstreamError, error_sse
from inferstack.gateway.guardrail import PiiGuardrail
from inferstack.gateway.stream_guard import StreamGuard
from inferstack.gateway.usage import Usage

__all__ = ["DONE", "Relay", "RelayResponse"]

DONE = b"data: [DONE]\n\n"
DRAIN_S = 0.5
"""How long the relay reads an upstream's remainder after ``[DONE]`` to keep its connection."""
DONE_EVENT = b"data: [DONE]"


class Relay:
    """Owns one upstream streaming response until the client has it all (or went away)."""

    def __init__(
        self,
        response: httpx.Response,
        chunks: AsyncIterator[bytes],
        first: bytes,
        *,
        strip_usage: bool,
        guardrail: PiiGuardrail | None,
        on_close: Callable[[Relay], Awaitable[None]],
        spawn: Callable[[Coroutine[Any, Any, None]], Awaitable[None]],
        deployment: str,
        prompt_estimate: int = 0,
    ) -> None:
        self._response = response
        self._chunks = chunks
        self._first = first
        self._strip_usage = strip_usage
        self._guard = StreamGuard(guardrail) if guardrail is not None else None
        self._on_close = on_close
        self._spawn = spawn
        self._deployment = deployment
        self._prompt_estimate = prompt_estimate
        self._closed = False
        self._at_done = False  # the client has [DONE]; the upstream may still send its end
        self._usage_seen = False
        self.relayed = 0  # content events passed to the client
        self.usage = Usage()
        self.status = 499  # until the stream ends normally: the client went away
        self.ended_at: float | None = None

    async def body(self) -> AsyncIterator[bytes]:
        buffer = b""
        chunk = self._first
        try:
            while True:
                if chunk:
                    buffer += chunk.replace(b"\r\n", b"\n") if b"\r" in chunk else chunk
                    cut = buffer.rfind(b"\n\n")
                    if cut >= 0:
                        ready, buffer = buffer[: cut + 2], buffer[cut + 2 :]
                        out = self._filter(ready)
                        if out:
                            yield out
                            if DONE_EVENT in out:
                                # The client has the whole answer: whatever the upstream does
                                # next (close late, break off), this stream ended well.
                                self.status = 200
                                self._at_done = True
                                return
                try:
                    chunk = await anext(self._chunks)
                except StopAsyncIteration:
                    break
            if buffer.strip():
                yield buffer
            self.status = 200
        except httpx.HTTPError as exc:
            self.status = 502
            error = UpstreamError(f"upstream {self._deployment} broke off the stream: {exc!r}")
            yield error_sse(error).encode() + DONE
        except InferstackError as exc:  # the output guardrail refused a chunk
            self.status = exc.status
            yield error_sse(exc).encode() + DONE
        finally:
            await self.close()

    def _filter(self, events: bytes) -> bytes:
        if b'"usage"' not in events and self._guard is None:
            self.relayed += events.count(b"data:") - events.count(b"data: [DONE]")
            return events
        kept: list[bytes] = []
        for event in events.split(b"\n\n")[:-1]:
            kept.append(self._filter_event(event))
        return b"".join(e + b"\n\n" for e in kept if e)

    def _filter_event(self, event: bytes) -> bytes:
        if not event.startswith(b"data:"):
            return event
        payload = event[5:].strip()
        if payload == b"[DONE]":
            rest = self._guard.rest() if self._guard is not None else None
            return (
                event if rest is None else b"data: " + json.dumps(rest).encode() + b"\n\n" + event
            )
        if b'"usage"' not in payload and self._guard is None:
            return event
        try:
            data: Any = json.loads(payload)
        except ValueError:
            return event
        if not isinstance(data, dict):
            return event
        changed = False
        if data.get("usage"):
            self.usage = Usage.from_openai(data["usage"])
            self._usage_seen = True
            if self._strip_usage:
                if not data.get("choices"):
                    return b""
                del data["usage"]
                changed = True
        if data.get("choices"):
            self.relayed += 1
        if self._guard is not None and self._guard.event(data):
            changed = True
        return b"data: " + json.dumps(data).encode() if changed else event

    async def close(self) -> None:
        """Close the upstream response and settle the call; safe to call more than once.

        Runs shielded (``spawn``): it is usually reached through a cancelled request.
        """
        if self._closed:
            return
        self._closed = True
        self.ended_at = time.perf_counter()
        await self._spawn(self._finish())

    async def _finish(self) -> None:
        try:
            if self._at_done:
                with contextlib.suppress(httpx.HTTPError, TimeoutError):
                    async with asyncio.timeout(DRAIN_S):
                        async for _ in self._chunks:
                            pass
            await self._response.aclose()
        finally:
            if not self._usage_seen and self.relayed:
                self.usage = Usage(self._prompt_estimate, self.relayed)
            await self._on_close(self)


class RelayResponse(StreamingResponse):
    """A streaming response that settles its relay even if the body never started."""

    def __init__(self, relay: Relay, headers: dict[str, str]) -> None:
        super().__init__(relay.body(), media_type="text/event-stream", headers=headers)
        self.relay = relay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.relay.close()
