"""Soak test: the whole local stack at saturation through the gateway, window by window.

Not part of ``make test`` (it runs for minutes). It starts ``inferstack up`` on free ports with
a temporary state dir (or uses a running stack's ``stack.json``), then keeps ``--concurrency``
clients busy with a mix of requests through the gateway with its virtual key:

- chat (plain and streamed), ``tool_choice: required`` tool calls, ``json_schema`` output,
  embeddings;
- clients that disconnect early (after the first streamed chunk);
- poison requests a careless or hostile client sends (bad JSON, lone surrogates, Unicode-digit
  ``logit_bias`` keys, an unknown model, a negative ``max_tokens``), which must get a 4xx.

Per window it reports requests served, 4xx for poison, 5xx (goal 0), transport errors, the
p50/p99 latency of served requests and the RSS of every process of the stack (goal: flat).

Run: ``python -m inferstack.bench.soak --duration 1800 --window 300 --concurrency 16``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from inferstack.bench.stats import percentile

__all__ = ["KINDS", "Outcome", "WindowStats", "main", "rss_kib", "summarize_window"]

_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
_SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "answer",
        "schema": {
            "type": "object",
            "properties": {"answer": {"type": "string"}},
            "required": ["answer"],
        },
    },
}
_POISON: list[bytes] = [
    b'{"model": "MODEL", "messages": [',  # truncated JSON
    b'{"model": "MODEL", "messages": [{"role": "user", "content": "\\ud800"}]}',
    b'{"model": "MODEL", "logit_bias": {"\xc2\xb2": 1}, "messages": [{"role": "user", '
    b'"content": "hi"}]}',
    b'{"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]}',
    b'{"model": "MODEL", "max_tokens": -5, "messages": [{"role": "user", "content": "hi"}]}',
    b'{"model": "MODEL", "messages": "not a list"}',
]

KINDS = ("chat", "stream", "tools", "json_schema", "embeddings", "disconnect", "poison")
"""Request kinds, sent in proportion to ``_WEIGHTS``."""
_WEIGHTS = (25, 25, 10, 10, 10, 10, 10)


@dataclass
class Outcome:
    kind: str
    window: int
    status: int | None
    latency_s: float
    error: str = ""


@dataclass
class WindowStats:
    window: int
    served: int = 0
    poison_4xx: int = 0
    unexpected_4xx: int = 0
    http_5xx: int = 0
    transport_errors: int = 0
    disconnected: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    rss_mib: dict[str, float] = field(default_factory=dict)


def summarize_window(window: int, outcomes: list[Outcome]) -> WindowStats:
    """Count one window's outcomes; latency percentiles over the served requests."""
    ws = WindowStats(window)
    latencies = []
    for o in outcomes:
        if o.status is None:
            if o.kind == "disconnect" and o.error == "disconnected":
                ws.disconnected += 1
            else:
                ws.transport_errors += 1
        elif o.status >= 500:
            ws.http_5xx += 1
        elif o.status >= 400:
            if o.kind == "poison":
                ws.poison_4xx += 1
            else:
                ws.unexpected_4xx += 1
        elif o.kind == "poison":
            ws.unexpected_4xx += 1  # a poison request must never be accepted
        else:
            ws.served += 1
            latencies.append(o.latency_s * 1000.0)
    ws.p50_ms = percentile(latencies, 50)
    ws.p99_ms = percentile(latencies, 99)
    return ws


def rss_kib(pid: int, proc: Path = Path("/proc")) -> int:
    """Resident set size of ``pid`` and all its descendants, in KiB (0 if gone)."""
    children: dict[int, list[int]] = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            for line in (proc / str(current) / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


class Soak:
    """The clients: each picks a kind at random and sends it, until the deadline."""

    def __init__(self, stack: dict[str, Any], key: str, seed: int) -> None:
        self.base = stack["gateway"]["base_url"].rstrip("/")
        self.chat_model = stack["chat"]["model"]
        self.embed_model = stack.get("embeddings", {}).get("model")
        self.headers = {"Authorization": f"Bearer {key}"}
        self.rng = random.Random(seed)
        self.outcomes: list[Outcome] = []
        self.t0 = time.monotonic()
        self.window_s = 300.0
        senders: dict[str, Callable[[httpx.AsyncClient], Awaitable[tuple[int | None, str]]]]
        senders = {
            "chat": self._chat,
            "stream": self._stream,
            "tools": self._tools,
            "json_schema": self._json_schema,
            "embeddings": self._embeddings,
            "disconnect": self._disconnect,
            "poison": self._poison,
        }
        self.senders = senders

    def _messages(self) -> list[dict[str, str]]:
        topic = self.rng.choice(["Paris", "the sea", "a hash table", "batching", "tea"])
        return [{"role": "user", "content": f"Tell me one fact about {topic}."}]

    async def _post(self, client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> int:
        r = await client.post(self.base + path, json=body, headers=self.headers)
        return r.status_code

    async def _chat(self, client: httpx.AsyncClient) -> tuple[int | None, str]:
        body = {"model": self.chat_model, "max_tokens": 32, "messages": self._messages()}
        return await self._post(client, "/chat/completions", body), ""

    async def _stream(self, client: httpx.AsyncClient) -> tuple[int | None, str]:
        body = {"model": self.chat_model, "max_tokens": 48, "stream": True}
        body["messages"] = self._messages()
        async with client.stream(
            "POST", self.base + "/chat/completions", json=body, headers=self.headers
        ) as r:
            text = (await r.aread()).decode("utf-8", "replace")
            if r.status_code == 200 and ('"error"' in text or "[DONE]" not in text):
                return 500, "error event or no [DONE] in a 200 stream"
            return r.status_code, ""

    async def _tools(self, client: httpx.AsyncClient) -> tuple[int | None, str]:
        city = self.rng.choice(["Paris", "Lima", "Oslo"])
        body = {
            "model": self.chat_model,
            "max_tokens": 48,
            "tools": [_TOOL],
            "tool_choice": "required",
            "messages": [{"role": "user", "content": f"What is the weather in {city}?"}],
        }
        return await self._post(client, "/chat/completions", body), ""

    async def _json_schema(self, client: httpx.AsyncClient) -> tuple[int | None, str]:
        body = {"model": self.chat_model, "max_tokens": 48, "response_format": _SCHEMA}
        body["messages"] = self._messages()
        return await self._post(client, "/chat/completions", body), ""

    async def _embeddings(self, client: httpx.AsyncClient) -> tuple[int | None, str]:
        if self.embed_model is None:
            return await self._chat(client)
        texts = [f"sentence number {self.rng.randrange(10**6)}" for _ in range(4)]
        body = {"model": self.embed_model, "input": texts}
        return await self._post(client, "/embeddings", body), ""

    async def _disconnect(self, client: httpx.AsyncClient) -> tuple[int | None, str]:
        body = {"model": self.chat_model, "max_tokens": 64, "stream": True}
        body["messages"] = self._messages()
        async with client.stream(
            "POST", self.base + "/chat/completions", json=body, headers=self.headers
        ) as r:
            if r.status_code != 200:
                return r.status_code, ""
            async for _ in r.aiter_bytes():
                break  # leave after the first chunk: the server must free the slot
        return None, "disconnected"

    async def _poison(self, client: httpx.AsyncClient) -> tuple[int | None, str]:
        raw = self.rng.choice(_POISON).replace(b"MODEL", self.chat_model.encode())
        headers = {**self.headers, "Content-Type": "application/json"}
        r = await client.post(self.base + "/chat/completions", content=raw, headers=headers)
        return r.status_code, ""

    async def client_loop(self, client: httpx.AsyncClient, deadline: float) -> None:
        while time.monotonic() < deadline:
            kind = self.rng.choices(KINDS, _WEIGHTS)[0]
            start = time.monotonic()
            window = int((start - self.t0) // self.window_s)
            try:
                status, error = await self.senders[kind](client)
            except httpx.HTTPError as exc:
                status, error = None, f"{type(exc).__name__}: {exc}"[:200]
            self.outcomes.append(Outcome(kind, window, status, time.monotonic() - start, error))


def _start_stack(state: Path, parallel: int) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    from inferstack.bench.peers.base import free_port

    ports = [str(free_port()) for _ in range(3)]
    cmd = [
        sys.executable, "-m", "inferstack.cli.main", "up", "--state-dir", str(state),
        "--chat-port", ports[0], "--embedding-port", ports[1], "--gateway-port", ports[2],
        "--parallel", str(parallel), "--ctx-size", "1024",
    ]  # fmt: skip
    log = (state.parent / "up.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    stack_file = state / "stack.json"
    deadline = time.monotonic() + 600
    while not stack_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"the stack did not come up; see {state.parent / 'up.log'}")
        time.sleep(0.5)
    return proc, json.loads(stack_file.read_text())


def _table(windows: list[WindowStats], window_s: float) -> str:
    names = sorted({n for w in windows for n in w.rss_mib})
    columns = ["window", "served", "poison 4xx", "other 4xx", "5xx", "transport errors"]
    columns += ["early disconnects", "p50 ms", "p99 ms", *(f"RSS {n} MiB" for n in names)]
    head = "| " + " | ".join(columns) + " |"
    lines = [head, "|" + "---:|" * (9 + len(names))]
    for w in windows:
        start = w.window * window_s
        cells = [
            f"{start / 60:.0f}-{(start + window_s) / 60:.0f} min",
            str(w.served), str(w.poison_4xx), str(w.unexpected_4xx), str(w.http_5xx),
            str(w.transport_errors), str(w.disconnected),
            f"{w.p50_ms:.0f}" if w.p50_ms is not None else "—",
            f"{w.p99_ms:.0f}" if w.p99_ms is not None else "—",
            *(f"{w.rss_mib.get(n, 0):.0f}" for n in names),
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


async def _run(args: argparse.Namespace, stack: dict[str, Any], key: str) -> list[WindowStats]:
    soak = Soak(stack, key, args.seed)
    soak.window_s = args.window
    pids = {name: int(info["pid"]) for name, info in stack.items() if "pid" in info}
    rss: dict[int, dict[str, float]] = {}
    deadline = soak.t0 + args.duration
    limits = httpx.Limits(max_connections=args.concurrency * 2)
    async with httpx.AsyncClient(timeout=args.timeout, limits=limits) as client:
        clients = [
            asyncio.create_task(soak.client_loop(client, deadline)) for _ in range(args.concurrency)
        ]
        n_windows = int(-(-args.duration // args.window))
        for w in range(n_windows):
            window_end = soak.t0 + min((w + 1) * args.window, args.duration)
            await asyncio.sleep(max(window_end - time.monotonic(), 0))
            rss[w] = {name: rss_kib(pid) / 1024 for name, pid in pids.items()}
            print(f"window {w}: {len(soak.outcomes)} requests so far, RSS {rss[w]}", flush=True)
        await asyncio.gather(*clients)
    windows = []
    for w in range(max(rss) + 1 if rss else 0):
        ws = summarize_window(w, [o for o in soak.outcomes if o.window == w])
        ws.rss_mib = rss.get(w, {})
        windows.append(ws)
    return windows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=1800, help="seconds (default 1800)")
    parser.add_argument("--window", type=float, default=300, help="window seconds (default 300)")
    parser.add_argument("--concurrency", type=int, default=16, help="clients (default 16)")
    parser.add_argument("--parallel", type=int, default=8, help="chat slots of the stack started")
    parser.add_argument("--timeout", type=float, default=120, help="per-request timeout, s")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--stack", type=Path, help="a running stack's stack.json (default: start one)"
    )
    parser.add_argument("--output", type=Path, help="write the windows as JSON here")
    args = parser.parse_args(argv)
    proc = None
    if args.stack:
        stack = json.loads(args.stack.read_text())
    else:
        state = Path(tempfile.mkdtemp(prefix="inferstack-soak-")) / "state"
        proc, stack = _start_stack(state, args.parallel)
    try:
        key = Path(stack["gateway"]["api_key_file"]).read_text().strip()
        windows = asyncio.run(_run(args, stack, key))
    finally:
        if proc is not None:
            proc.send_signal(2)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(_table(windows, args.window))
    if args.output:
        settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        rows = [w.__dict__ for w in windows]
        args.output.write_text(json.dumps({"args": settings, "windows": rows}, indent=2))
    return 1 if any(w.http_5xx or w.unexpected_4xx for w in windows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
