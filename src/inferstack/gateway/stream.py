"""Streaming passthrough: relay the upstream's server-sent events chunk by chunk.

What the upstream sent is written to the client as soon as the relay would otherwise wait for
more: the events of every chunk already received go out in one write, and only an event cut
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
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator
from typing import Any

import httpx
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

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
        self._watch: Callable[[], None] | None = None
        self._at_done = False  # the client has [DONE]; the upstream may still send its end
        self._usage_seen = False
        self.relayed = 0  # content events passed to the client
        self.usage = Usage()
        self.status = 499  # until the stream ends normally: the client went away
        self.ended_at: float | None = None

    async def pump(self, send: Send, watch: Callable[[], None] | None = None) -> None:
        """Write the stream's body to ``send`` (the response has started); ends it.

        ``watch`` is called before the relay first waits for the upstream (a hang-up can only
        matter from then on: an answer that arrived whole is written without a wait).

        NOTE: events already received are written together: a write to the client costs more
        than the event itself, and an upstream's chunks often arrive many to one read.
        """
        self._watch = watch
        buffer = b""
        ready: list[bytes] = []  # whole events not yet written
        chunk = self._first
        try:
            while True:
                if chunk:
                    buffer += chunk.replace(b"\r\n", b"\n") if b"\r" in chunk else chunk
                    cut = buffer.rfind(b"\n\n")
                    if cut >= 0:
                        events, buffer = buffer[: cut + 2], buffer[cut + 2 :]
                        out = self._filter(events)
                        if out:
                            ready.append(out)
                            if DONE_EVENT in out:
                                # The client has the whole answer: whatever the upstream does
                                # next (close late, break off), this stream ended well.
                                self.status = 200
                                self._at_done = True
                                await _write(send, ready, more=False)
                                return
                try:
                    chunk = await self._next(send, ready)
                except StopAsyncIteration:
                    break
            if buffer.strip():
                ready.append(buffer)
            self.status = 200
            await _write(send, ready, more=False)
        except httpx.HTTPError as exc:
            self.status = 502
            error = UpstreamError(f"upstream {self._deployment} broke off the stream: {exc!r}")
            ready.append(error_sse(error).encode() + DONE)
            await _write(send, ready, more=False)
        except InferstackError as exc:  # the output guardrail refused a chunk
            self.status = exc.status
            ready.append(error_sse(exc).encode() + DONE)
            await _write(send, ready, more=False)
        finally:
            await self.close()

    async def _next(self, send: Send, ready: list[bytes]) -> bytes:
        """The upstream's next chunk; what is ``ready`` is written first if it must be
        waited for (a chunk already received comes at once, and joins the same write)."""
        step = anext(self._chunks).__await__()
        try:
            waits_on = step.send(None)
        except StopIteration as done:  # already received: no wait
            return done.value  # type: ignore[no-any-return]
        if self._watch is not None:
            self._watch()
            self._watch = None
        await _write(send, ready, more=True)
        return await _Resumed(step, waits_on)  # type: ignore[no-any-return]

    def _filter(self, events: bytes) -> bytes:
        if self._guard is None:
            # NOTE: only an event naming "usage" is parsed; the events around it pass as they
            # are (a usage chunk arrives with the last content events, often in one read).
            at = events.find(b'"usage"')
            if at < 0:
                self.relayed += events.count(b"data:") - events.count(DONE_EVENT)
                return events
            cut = events.rfind(b"\n\n", 0, at)
            start = cut + 2 if cut >= 0 else 0
            end = events.find(b"\n\n", at)
            head, event, tail = events[:start], events[start:end], events[end + 2 :]
            self.relayed += head.count(b"data:") - head.count(DONE_EVENT)
            kept = self._filter_event(event)
            return head + (kept + b"\n\n" if kept else b"") + (self._filter(tail) if tail else b"")
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
                await self._drain()
            await self._response.aclose()
        finally:
            if not self._usage_seen and self.relayed:
                self.usage = Usage(self._prompt_estimate, self.relayed)
            await self._on_close(self)

    async def _drain(self) -> None:
        """Read the rest of the upstream's answer, waiting :data:`DRAIN_S` for it at most.

        NOTE: what has arrived already (usually all of it: the end of the chunked body came
        with ``[DONE]``) is read without arming a timer.
        """
        try:
            while True:
                step = anext(self._chunks).__await__()
                try:
                    waits_on = step.send(None)
                except StopIteration:  # a chunk that had arrived
                    continue
                async with asyncio.timeout(DRAIN_S):
                    await _Resumed(step, waits_on)
                    async for _ in self._chunks:
                        pass
                return
        except (StopAsyncIteration, httpx.HTTPError, TimeoutError):
            return


async def _write(send: Send, ready: list[bytes], *, more: bool) -> None:
    if ready or not more:
        body = ready[0] if len(ready) == 1 else b"".join(ready)
        ready.clear()
        await send({"type": "http.response.body", "body": body, "more_body": more})


class _Resumed:
    """Awaits the rest of a coroutine whose first step was run by hand and yielded
    ``waits_on`` (what the task must wait for), exactly as the task would have run it."""

    __slots__ = ("_step", "_waits_on")

    def __init__(self, step: Generator[Any, None, Any], waits_on: Any) -> None:
        self._step = step
        self._waits_on = waits_on

    def __await__(self) -> Generator[Any, None, Any]:
        step, waits_on = self._step, self._waits_on
        while True:
            try:
                yield waits_on
            except GeneratorExit:
                step.close()
                raise
            except BaseException as exc:  # cancellation and the like: the coroutine's to handle
                try:
                    waits_on = step.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    waits_on = step.send(None)
                except StopIteration as done:
                    return done.value


class _Hangup:
    """Cancels the task streaming a response when its client disconnects.

    One plain task reading ``receive`` (Starlette's streaming response runs an anyio task
    group per response for the same thing, which costs more than the relay itself).
    """

    def __init__(self, receive: Receive) -> None:
        self._streaming = asyncio.current_task()
        self.happened = False
        self._over = False
        self._listener = asyncio.ensure_future(self._listen(receive))

    async def _listen(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        if not self._over and self._streaming is not None:
            self.happened = True
            self._streaming.cancel()

    def absorbs(self) -> bool:
        """The cancellation being handled is this hang-up's (and no one else's)."""
        return self.happened and self._streaming is not None and self._streaming.uncancel() == 0

    def over(self) -> None:
        self._over = True
        if not self._listener.done():
            self._listener.cancel()


class RelayResponse(Response):
    """A streaming response that writes the relay's events straight to ``send``, stops when
    the client hangs up, and settles its relay even if the body never started."""

    media_type = "text/event-stream"

    def __init__(self, relay: Relay, headers: dict[str, str]) -> None:
        self.status_code = 200
        self.background = None
        self.init_headers(headers)
        self.relay = relay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hangup: _Hangup | None = None

        def watch() -> None:  # the relay is about to wait for the upstream
            nonlocal hangup
            if hangup is None:
                hangup = _Hangup(receive)

        async def send_body(message: Message) -> None:
            if not message["more_body"] and hangup is not None:
                # NOTE: before the last write: a client that has it all reads as disconnected
                # while the relay still drains the upstream, and that is no hang-up.
                hangup.over()
            await send(message)

        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await self.relay.pump(send_body, watch)
        except asyncio.CancelledError:
            if hangup is None or not hangup.absorbs():
                raise
        finally:
            if hangup is not None:
                hangup.over()
            await self.relay.close()
