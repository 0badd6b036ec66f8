"""The SSE response of a generation: cleanup that always runs, stalled writers dropped,
keep-alive comments while the stream is idle.

Starlette's ``StreamingResponse`` cancels the body when the client disconnects, but if that
happens before the body iterator first runs, the iterator's ``finally`` never runs either: a
slot released there is lost for good. :class:`EventStream` instead calls ``on_close`` in every
path, bounds every write with a timeout, and sends an SSE comment (``: keep-alive``) whenever no
event came for ``keepalive`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

__all__ = ["KEEPALIVE", "EventStream"]

log = logging.getLogger(__name__)

KEEPALIVE = ": keep-alive\n\n"
"""An SSE comment: clients skip it, proxies see traffic."""


class StalledWriterError(Exception):
    """The client did not take a write in time."""


class EventStream(Response):
    """``text/event-stream`` of ``events``; ``on_close`` runs exactly once, whatever happens."""

    media_type = "text/event-stream"

    def __init__(
        self,
        events: AsyncIterator[str],
        *,
        on_close: Callable[[], Awaitable[None]],
        write_timeout: float,
        keepalive: float,
    ) -> None:
        self.events = events
        self.on_close = on_close
        self.write_timeout = write_timeout
        self.keepalive = keepalive
        self.status_code = 200
        self.background = None
        self.init_headers({"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pump = asyncio.ensure_future(self._pump(send))
        watch = asyncio.ensure_future(_wait_disconnect(receive))
        try:
            await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, watch):
                task.cancel()
            await asyncio.gather(pump, watch, return_exceptions=True)
            await self.on_close()
        if not pump.cancelled() and isinstance(pump.exception(), StalledWriterError):
            log.info("dropped a stream whose client stopped reading")
        elif not pump.cancelled() and pump.exception() is not None:
            raise pump.exception()  # type: ignore[misc]

    async def _send(self, send: Send, message: Message) -> None:
        try:
            async with asyncio.timeout(self.write_timeout):
                await send(message)
        except TimeoutError as exc:
            raise StalledWriterError from exc

    async def _pump(self, send: Send) -> None:
        await self._send(
            send, {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
        )
        pending: asyncio.Task[str | None] | None = None
        try:
            while True:
                if pending is None:
                    pending = asyncio.ensure_future(_next(self.events))
                done, _ = await asyncio.wait({pending}, timeout=self.keepalive)
                if not done:
                    await self._send(send, _body(KEEPALIVE))
                    continue
                event = pending.result()
                pending = None
                if event is None:
                    break
                await self._send(send, _body(event))
        finally:
            if pending is not None and not pending.done():
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pending
            with contextlib.suppress(RuntimeError):
                await self.events.aclose()  # type: ignore[attr-defined]
        await self._send(send, {"type": "http.response.body", "body": b"", "more_body": False})


async def _next(events: AsyncIterator[str]) -> str | None:
    try:
        return await anext(events)
    except StopAsyncIteration:
        return None


def _body(text: str) -> Message:
    return {"type": "http.response.body", "body": text.encode(), "more_body": True}


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
