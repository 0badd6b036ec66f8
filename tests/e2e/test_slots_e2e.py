"""No slot is ever lost, on the real model: 100 clients that connect and vanish at random
moments (queued, before the first token, mid-stream) plus 8 that open streams and never read
them; afterwards /metrics shows nothing running, waiting or in flight, and a new request is
served. (A never-reading client is dropped once a write stalls for the write timeout; when the
socket buffers still hold all it is sent, the request deadline ends it.)"""

from __future__ import annotations

import asyncio
import json
import random
import re
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from support.openai_spec import assert_openai
from support.servers import RunningServer, start_server, stop_server

pytestmark = pytest.mark.e2e

VANISHING = 100
NEVER_READING = 8


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    """Eight slots; a stalled stream is dropped after 3 s without a write, and any request
    ends after 60 s (a never-reading client whose writes still fit the socket buffers)."""
    server = start_server(
        "--model",
        "default",
        "--parallel",
        "8",
        "--ctx-size",
        "1024",
        "--threads",
        "2",
        "--max-waiting",
        "200",
        "--write-timeout",
        "3",
        "--request-timeout",
        "60",
    )
    yield server
    stop_server(server)


def gauges(server: RunningServer) -> dict[str, float]:
    text = httpx.get(f"{server.url}/metrics", timeout=30).text
    names = ("requests_in_flight", "running_sequences", "waiting_sequences")
    found = {}
    for name in names:
        match = re.search(rf"^inferstack_{name}{{[^}}]*}} ([0-9.e+-]+)$", text, re.M)
        assert match, f"inferstack_{name} not in /metrics"
        found[name] = float(match.group(1))
    return found


def raw_request(server: RunningServer, path: str, body: dict[str, object]) -> bytes:
    data = json.dumps(body).encode()
    host = server.url.removeprefix("http://")
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


async def vanish(server: RunningServer, rng: random.Random, i: int) -> str:
    """One client that leaves at a random moment; returns when it left."""
    host, port = server.url.removeprefix("http://").split(":")
    stream = rng.random() < 0.7
    body = {
        "model": server.model,
        "prompt": f"Story {i}: once upon a time",
        "max_tokens": rng.randint(10, 60),
        "ignore_eos": True,
        "stream": stream,
    }
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(raw_request(server, "/v1/completions", body))
    await writer.drain()
    moment = rng.choice(
        ["queued", "first-bytes", "mid-stream"] if stream else ["queued", "first-bytes"]
    )
    try:
        if moment == "first-bytes":
            await asyncio.wait_for(reader.read(64), 20)
        elif moment == "mid-stream":
            got = b""
            while got.count(b"data: ") < rng.randint(2, 8) and not reader.at_eof():
                got += await asyncio.wait_for(reader.read(4096), 20)
        else:
            await asyncio.sleep(rng.random() * 0.05)
    except TimeoutError:
        pass
    if rng.random() < 0.5:
        writer.transport.abort()  # a reset, as from a killed client
    else:
        writer.close()
    return moment


def never_reader(server: RunningServer) -> socket.socket:
    """A stream opened with a tiny receive buffer and never read."""
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    sock.connect((host, int(port)))
    body = {
        "model": server.model,
        "messages": [{"role": "user", "content": "Tell me a long story."}],
        "max_tokens": 900,
        "ignore_eos": True,
        "stream": True,
        "logprobs": True,
        "top_logprobs": 20,  # about 2 kB per token: the buffers fill within a few dozen
    }
    sock.sendall(raw_request(server, "/v1/chat/completions", body))
    return sock


def test_no_slot_is_lost(server: RunningServer, capsys: pytest.CaptureFixture[str]) -> None:
    stuck = [never_reader(server) for _ in range(NEVER_READING)]
    try:

        async def crowd() -> list[str]:
            rng = random.Random(9)
            return list(await asyncio.gather(*(vanish(server, rng, i) for i in range(VANISHING))))

        moments = asyncio.run(crowd())
        deadline = time.monotonic() + 180
        while (now := gauges(server)) != {
            "requests_in_flight": 0.0,
            "running_sequences": 0.0,
            "waiting_sequences": 0.0,
        }:
            assert time.monotonic() < deadline, f"slots still held: {now}"
            time.sleep(0.5)
    finally:
        for sock in stuck:
            sock.close()
    ok = httpx.post(
        f"{server.base_url}/chat/completions",
        json={
            "model": server.model,
            "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 4,
        },
        timeout=60,
    )
    assert ok.status_code == 200
    assert_openai(ok.json(), "CreateChatCompletionResponse")
    with capsys.disabled():
        counts = {m: moments.count(m) for m in sorted(set(moments))}
        print(
            f"\n[slots] {VANISHING} vanishing clients {counts} + {NEVER_READING} never reading: "
            f"0 in flight, 0 running, 0 waiting afterwards; a new request served"
        )
