"""The gateway's lean upstream transport against a bare HTTP/1.1 server on 127.0.0.1: bodies
framed by length and by chunks, kept connections (and one the server let go), and each failure
as the httpx exception the proxy maps (connect, read timeout, a body cut short)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from inferstack.gateway.upstream_http import UpstreamTransport, upstream_mounts
from support.servers import free_port


class BareServer:
    """Answers by path: ``/length`` (Content-Length), ``/chunked`` (three chunks), ``/once``
    (answers, then closes the kept connection without saying so), ``/stale`` (answers the first
    request on a connection; the next one on it is read and the connection closed, as a server
    whose keep-alive timeout just ran out does), ``/silent`` (never answers),
    ``/cut`` (closes halfway through a chunked body)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.connections = 0
        self.bodies: list[bytes] = []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> BareServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ")[1].decode()
                length = next(
                    (int(line.split(b":")[1]) for line in head.split(b"\r\n")
                     if line.lower().startswith(b"content-length:")),
                    0,
                )  # fmt: skip
                self.bodies.append(await reader.readexactly(length))
                if path == "/stale" and served:
                    break
                served += 1
                if path == "/silent":
                    await asyncio.Event().wait()
                if path == "/length":
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello")
                elif path in ("/chunked", "/once", "/stale"):
                    writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                    for part in (b"data: 1\n\n", b"data: 2\n\n", b"data: [DONE]\n\n"):
                        writer.write(b"%x\r\n%s\r\n" % (len(part), part))
                        await writer.drain()
                    writer.write(b"0\r\n\r\n")
                elif path == "/cut":
                    writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel")
                await writer.drain()
                if path in ("/once", "/cut"):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[BareServer]:
    async with BareServer() as bare:
        yield bare


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=UpstreamTransport(), timeout=httpx.Timeout(5.0, read=0.5)
    ) as c:
        yield c


async def test_bodies_by_length_and_by_chunks_on_one_kept_connection(server, client) -> None:
    base = f"http://127.0.0.1:{server.port}"
    for _ in range(3):
        assert (await client.post(base + "/length", content=b"{}")).text == "hello"
        streamed = b""
        async with client.stream("POST", base + "/chunked", content=b'{"a": 1}') as response:
            assert response.status_code == 200
            assert response.headers["transfer-encoding"] == "chunked"
            async for chunk in response.aiter_bytes():
                streamed += chunk
        assert streamed == b"data: 1\n\ndata: 2\n\ndata: [DONE]\n\n"
    assert server.connections == 1
    assert server.bodies == [b"{}", b'{"a": 1}'] * 3


async def test_a_kept_connection_the_server_let_go_is_replaced(server, client) -> None:
    base = f"http://127.0.0.1:{server.port}"
    for _ in range(3):
        assert (await client.post(base + "/once", content=b"{}")).status_code == 200
        await asyncio.sleep(0.05)  # the server's close reaches the idle connection, or not yet
    assert server.connections == 3 and len(server.bodies) == 3


async def test_a_request_the_server_closed_on_unanswered_is_sent_again(server, client) -> None:
    base = f"http://127.0.0.1:{server.port}"
    for _ in range(2):
        assert (await client.post(base + "/stale", content=b"{}")).status_code == 200
    # the second request reached the kept connection's server, which closed it unanswered
    assert server.connections == 2 and len(server.bodies) == 3


async def test_failures_are_the_httpx_exceptions_the_proxy_maps(server, client) -> None:
    with pytest.raises(httpx.ConnectError):
        await client.post(f"http://127.0.0.1:{free_port()}/length", content=b"{}")
    base = f"http://127.0.0.1:{server.port}"
    with pytest.raises(httpx.ReadTimeout):
        await client.post(base + "/silent", content=b"{}")
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post(base + "/cut", content=b"{}")
    # and a broken connection is never handed out again
    assert (await client.post(base + "/length", content=b"{}")).text == "hello"


def test_https_and_proxied_upstreams_stay_on_httpx_transport(monkeypatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert list(upstream_mounts()) == ["http://"]
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.internal:3128")
    assert upstream_mounts() == {}
