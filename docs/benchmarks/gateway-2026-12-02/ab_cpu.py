"""Gateway CPU per request, two (or more) source trees interleaved behind one echo upstream.

    python docs/benchmarks/gateway-2026-12-02/ab_cpu.py BEFORE/src,AFTER/src ROUNDS PER_ROUND

Starts the echo peer once and one gateway peer per source tree (``PYTHONPATH`` = that tree),
then, ``ROUNDS`` times, sends ``PER_ROUND`` sequential streamed chat requests (16 tokens, one
kept connection, httpx) to each gateway in turn and to the echo upstream directly. Prints per
tree the CPU time its gateway process used per request (utime + stime from ``/proc/PID/stat``,
and the kernel's share of it) and the p50 latency over the direct p50. Interleaving in rounds
lets the load of other processes on a shared machine fall on every tree alike.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

import httpx

from inferstack.bench.peers.echo import echo_server
from inferstack.bench.peers.gateway import gateway_proxy

TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> tuple[float, float]:
    """User and kernel CPU seconds of ``pid`` so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def run(client: httpx.Client, body: dict, n: int) -> list[float]:
    seconds = []
    for _ in range(n):
        start = time.perf_counter()
        with client.stream("POST", "/chat/completions", json=body) as response:
            response.raise_for_status()
            for _ in response.iter_bytes():
                pass
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    trees, rounds, per = sys.argv[1].split(","), int(sys.argv[2]), int(sys.argv[3])
    echo = echo_server().start()
    gateways = []
    try:
        for tree in trees:
            gateway = gateway_proxy(echo.base_url)
            gateway._env["PYTHONPATH"] = tree  # this tree's gateway code
            gateways.append(gateway.start())
        body = {
            "model": gateways[0].model,
            "messages": [{"role": "user", "content": "hello there"}],
            "max_tokens": 16,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        clients = [
            httpx.Client(base_url=g.base_url, headers={"Authorization": f"Bearer {g.api_key}"})
            for g in gateways
        ]
        direct = httpx.Client(base_url=echo.base_url)
        for client in [*clients, direct]:
            run(client, body, 200)  # warm-up
        used = [0.0] * len(gateways)
        kernel = [0.0] * len(gateways)
        latencies: list[list[float]] = [[] for _ in gateways]
        direct_latencies: list[float] = []
        for _ in range(rounds):
            for i, (gateway, client) in enumerate(zip(gateways, clients, strict=True)):
                assert gateway.pid is not None
                user, system = cpu_s(gateway.pid)
                latencies[i] += run(client, body, per)
                user_after, system_after = cpu_s(gateway.pid)
                used[i] += user_after - user + system_after - system
                kernel[i] += system_after - system
            direct_latencies += run(direct, body, per)
        base = statistics.median(direct_latencies) * 1000
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        print(f"direct p50 {base:.3f} ms; load average {load}")
        for tree, seconds, system, lat in zip(trees, used, kernel, latencies, strict=True):
            p50 = statistics.median(lat) * 1000
            print(
                f"{tree}: gateway CPU {1000 * seconds / (rounds * per):.3f} ms/request "
                f"({100 * system / seconds:.0f} % in the kernel), "
                f"p50 {p50:.3f} ms ({p50 - base:+.3f} ms over direct)"
            )
    finally:
        for gateway in gateways:
            gateway.stop()
        echo.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
