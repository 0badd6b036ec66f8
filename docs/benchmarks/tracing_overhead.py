"""Tracing on vs off through the gateway and the model server, in one process.

The real gateway app in front of the real model server app (``httpx.ASGITransport``). The
engine is an echo that streams 16 tokens without a model (what is left is the HTTP, proxy and
tracing work itself: an upper bound of the relative overhead), or with ``--model default`` the
real llama.cpp engine on the packaged model, one engine shared by both stacks. "on" exports
every span of both apps over OTLP/HTTP (protobuf) to a local receiver; "off" is the default (no
export, no-op tracer). The two stacks alternate round by round in the same process, so the
machine's drift hits both alike.

    .venv/bin/python docs/benchmarks/tracing_overhead.py [--rounds 5] [--requests 200]
    .venv/bin/python docs/benchmarks/tracing_overhead.py --model default --rounds 3 --requests 16
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from inferstack.engines.base import (
    Delta,
    Engine,
    EngineStats,
    GenerateRequest,
    ModelInfo,
    RenderedChat,
    Timings,
    Usage,
)
from inferstack.gateway import GatewaySettings, build_gateway_app
from inferstack.serving.app import build_app
from inferstack.serving.settings import ServerSettings
from inferstack.telemetry import Telemetry, TelemetrySettings

MASTER = "sk-bench-tracing-overhead"
TOKENS = 16
MODEL = {"id": "echo"}


class EchoEngine(Engine):
    def __init__(self) -> None:
        self.info = ModelInfo(id="echo", kind="chat", context_length=4096)
        self.max_concurrency = 64

    async def start(self) -> None: ...

    async def shutdown(self) -> None: ...

    def stats(self) -> EngineStats:
        return EngineStats()

    def render_chat(self, messages: list[dict[str, Any]], **_: Any) -> RenderedChat:
        return RenderedChat(prompt=" ".join(str(m.get("content")) for m in messages))

    async def generate(self, request: GenerateRequest) -> AsyncIterator[Delta]:
        t = Timings(time.time_ns(), admitted_ns=time.time_ns())
        for i in range(TOKENS):
            await asyncio.sleep(0)
            if i == 0:
                t.first_token_ns = time.time_ns()
            yield Delta(text=" tok")
        t.finished_ns = time.time_ns()
        yield Delta(finish_reason="length", usage=Usage(8, TOKENS), timings=t)


class Collector:
    """A local OTLP/HTTP endpoint that accepts and counts export requests."""

    def __init__(self) -> None:
        self.requests = 0
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                collector.requests += 1
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


async def stack(
    exits: AsyncExitStack, traced: bool, collector: Collector, state: Path, engine: Engine
) -> tuple[httpx.AsyncClient, list[Telemetry]]:
    settings = TelemetrySettings(exporter="otlp" if traced else "none", endpoint=collector.url)
    tels = [
        Telemetry.from_settings(settings, service_name=name, environ={})
        for name in ("inferstack-server", "inferstack-gateway")
    ]
    server = build_app(ServerSettings(), engine, telemetry=tels[0])
    gw_settings = GatewaySettings(
        state_dir=state,
        model_groups={MODEL["id"]: {"deployments": [{"api_base": "http://server/v1"}]}},
        health_check={"enabled": False},
    )
    gateway = build_gateway_app(
        gw_settings,
        master_key=MASTER,
        transport=httpx.ASGITransport(app=server),
        telemetry=tels[1],
    )
    await exits.enter_async_context(gateway.router.lifespan_context(gateway))
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway),
        base_url="http://gateway",
        headers={"Authorization": f"Bearer {MASTER}"},
    )
    await exits.enter_async_context(client)
    return client, tels


async def one(client: httpx.AsyncClient) -> float:
    body = {
        "model": MODEL["id"],
        "messages": [{"role": "user", "content": "Name three colours."}],
        "max_tokens": TOKENS,
        "temperature": 0,
    }
    started = time.perf_counter()
    r = await client.post("/v1/chat/completions", json=body)
    elapsed = time.perf_counter() - started
    assert r.status_code == 200, r.text
    return elapsed


async def throughput(client: httpx.AsyncClient, n: int, concurrency: int) -> float:
    queue = iter(range(n))

    async def worker() -> None:
        for _ in queue:
            await one(client)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - started)


async def main(rounds: int, requests: int, model: str | None) -> None:
    collector = Collector()
    engine: Engine = EchoEngine()
    if model is not None:
        from inferstack.engines.registry import create_engine

        engine = create_engine(model, parallel=16, ctx_size=1024)
        await engine.start()
        MODEL["id"] = engine.info.id
    async with AsyncExitStack() as exits:
        tmp = Path(exits.enter_context(tempfile.TemporaryDirectory()))
        clients, tels = {}, {}
        for mode, traced in (("off", False), ("on", True)):
            (tmp / mode).mkdir()
            clients[mode], tels[mode] = await stack(exits, traced, collector, tmp / mode, engine)
            for _ in range(4 if model else 20):  # warm up
                await one(clients[mode])
        latencies: dict[str, list[float]] = {"off": [], "on": []}
        rates: dict[str, list[float]] = {"off": [], "on": []}
        for _ in range(rounds):
            for mode in ("off", "on"):
                latencies[mode] += [await one(clients[mode]) for _ in range(requests)]
                rates[mode].append(await throughput(clients[mode], requests, 16))
        for t in tels["on"]:
            t.flush()
        p50 = {m: statistics.median(v) for m, v in latencies.items()}
        rps = {m: statistics.median(v) for m, v in rates.items()}
        exported = sum(t.stats.exported for t in tels["on"])
        dropped = sum(t.stats.dropped for t in tels["on"])
    await engine.shutdown()
    print(
        f"engine {MODEL['id']}: rounds {rounds}, {requests} requests per round and mode, "
        f"at most {TOKENS} tokens per answer"
    )
    print("| | tracing off | tracing on | on / off |")
    print("|---|---:|---:|---:|")
    print(
        f"| p50 latency, concurrency 1 | {p50['off'] * 1e3:.2f} ms | {p50['on'] * 1e3:.2f} ms "
        f"| {p50['on'] / p50['off']:.3f} (+{(p50['on'] - p50['off']) * 1e6:.0f} µs) |"
    )
    print(
        f"| throughput, concurrency 16 | {rps['off']:.0f} req/s | {rps['on']:.0f} req/s "
        f"| {rps['on'] / rps['off']:.3f} |"
    )
    print(f"spans exported {exported}, dropped {dropped}, export requests {collector.requests}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--model", default=None, help="a model spec (default: the echo engine)")
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.requests, args.model))
