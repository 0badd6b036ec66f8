"""A lean HTTP/1.1 transport for the gateway's plain-HTTP upstreams (an httpx transport).

httpx's default transport (httpcore, h11, anyio) parses every chunk of a streamed answer in
pure Python through half a dozen async generators, with a cancel scope around each read:
for a 16-token stream that is most of what the gateway spends on a request. This transport
keeps the httpx client (the same requests, responses, timeouts and exceptions, so every error
path above it is unchanged) and speaks HTTP/1.1 itself, on an asyncio protocol with
httptools' C parser (uvicorn's): one request is one write, and a read hands the relay all of
the body that arrived with it at once.

Connections are kept alive per origin (up to ``max_idle`` idle ones each) and never limited
in number: upstreams do admission control. A request on a kept connection that the server
closed before answering (its keep-alive timeout raced the request) is sent once more on a new
connection, as nothing of it was processed. Exceptions are httpx's: :class:`httpx.ConnectError`,
:class:`httpx.ConnectTimeout`, :class:`httpx.ReadTimeout`, :class:`httpx.RemoteProtocolError`,
:class:`httpx.WriteError`. ``https://`` upstreams and proxies stay on httpx's own transport
(see :func:`upstream_mounts`).
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import AsyncIterator

import httptools
import httpx

__all__ = ["UpstreamTransport", "upstream_mounts"]

_PAUSE_BYTES = 1 << 20  # stop reading a socket while this much body waits for the relay


class _Stale(Exception):
    """A kept connection closed before any byte of its answer."""


class _Connection(asyncio.Protocol):
    """One upstream connection and the response being read on it."""

    def __init__(self, origin: tuple[str, int]) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self._reset()

    def _reset(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.buffered = 0
        self.head_done = False
        self.keep_alive = False
        self.complete = False
        self.received = False  # any byte of the answer
        self.error: httpx.TransportError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.error = httpx.RemoteProtocolError(f"malformed upstream response: {exc}")
            self.close()
        if self.buffered > _PAUSE_BYTES and self.transport is not None and not self._paused:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.complete and self.error is None:
            self.error = httpx.RemoteProtocolError(
                "upstream closed the connection before its answer was complete"
            )
        self._wake()

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        self.keep_alive = self._parser.should_keep_alive()  # NOTE: reset once the body is read
        self.head_done = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)
        self.buffered += len(body)

    def on_message_complete(self) -> None:
        self.complete = True

    # the client side

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait(self, timeout: float | None) -> None:
        """Until something more arrived (or the connection broke); ReadTimeout after
        ``timeout`` seconds of silence."""
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                await self._waiter
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"no answer from the upstream within {timeout}s") from exc
        finally:
            self._waiter = None

    def take(self) -> bytes:
        data = b"".join(self.body) if len(self.body) > 1 else self.body[0]
        self.body.clear()
        self.buffered = 0
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return data

    def send(self, data: bytes) -> None:
        self._reset()
        assert self.transport is not None
        self.transport.write(data)

    @property
    def reusable(self) -> bool:
        return self.complete and not self.lost and self.keep_alive

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.lost = True


class _Body(httpx.AsyncByteStream):
    """The response body as it arrives; gives the connection back when it was read to its end."""

    def __init__(self, pool: UpstreamTransport, conn: _Connection, timeout: float | None) -> None:
        self._pool = pool
        self._conn = conn
        self._timeout = timeout
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        while True:
            if conn.body:
                yield conn.take()
            elif conn.complete:
                return
            elif conn.error is not None:
                raise conn.error
            else:
                await conn.wait(self._timeout)

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._pool.release(self._conn)


class UpstreamTransport(httpx.AsyncBaseTransport):
    """See the module docstring."""

    def __init__(self, max_idle: int = 512) -> None:
        self._max_idle = max_idle
        self._idle: dict[tuple[str, int], list[_Connection]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout") or {}
        origin = (request.url.host, request.url.port or 80)
        head = [b"%s %s HTTP/1.1\r\n" % (request.method.encode(), request.url.raw_path)]
        head += [b"%s: %s\r\n" % (name, value) for name, value in request.headers.raw]
        data = b"".join(head) + b"\r\n" + await request.aread()
        conn = self._reuse(origin)
        if conn is not None:
            try:
                return await self._exchange(request, conn, data, timeouts)
            except _Stale:
                pass  # the server let the kept connection go: the request never reached it
        conn = await self._connect(origin, timeouts.get("connect"))
        try:
            return await self._exchange(request, conn, data, timeouts)
        except _Stale as exc:
            raise httpx.RemoteProtocolError(
                "upstream closed the connection without answering", request=request
            ) from exc

    async def _exchange(
        self, request: httpx.Request, conn: _Connection, data: bytes, timeouts: dict[str, float]
    ) -> httpx.Response:
        read_timeout = timeouts.get("read")
        try:
            conn.send(data)
            while not conn.head_done:
                if conn.error is not None:
                    if not conn.received:
                        raise _Stale()
                    raise conn.error
                await conn.wait(read_timeout)
        except BaseException:  # cancelled, timed out or broken: the connection is spent
            conn.close()
            raise
        return httpx.Response(
            conn.status,
            headers=conn.headers,
            stream=_Body(self, conn, read_timeout),
            extensions={"http_version": b"HTTP/1.1"},
            request=request,
        )

    def _reuse(self, origin: tuple[str, int]) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()
            if not conn.lost:
                return conn
        return None

    async def _connect(self, origin: tuple[str, int], timeout: float | None) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(lambda: _Connection(origin), *origin)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connecting to {origin[0]}:{origin[1]} timed out") from exc
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {origin[0]}:{origin[1]}: {exc}") from exc
        return conn

    def release(self, conn: _Connection) -> None:
        """A response is done with ``conn``: keep it for the next request, or close it."""
        idle = self._idle.setdefault(conn.origin, [])
        if conn.reusable and len(idle) < self._max_idle:
            idle.append(conn)
        else:
            conn.close()

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()


def upstream_mounts() -> dict[str, httpx.AsyncBaseTransport]:
    """The gateway client's mounts: plain-HTTP upstreams on :class:`UpstreamTransport`, unless
    the environment names an HTTP proxy (httpx's own transport honours it)."""
    proxies = urllib.request.getproxies()
    if "http" in proxies or "all" in proxies:
        return {}
    return {"http://": UpstreamTransport()}
