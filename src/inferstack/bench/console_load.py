"""How fast the console's API answers at scale: ``python -m inferstack.bench.console_load``.

Starts a throwaway PostgreSQL, starts the gateway on it (its migrations make the schema),
generates ``--requests`` spend log rows (default 1,000,000) with their usage rollups, ``--keys``
virtual keys (10,000), users, teams and audit entries in SQL, then calls every console API route
``--samples`` times (one at a time, random parameters) and prints p50/p95/max per route.

The peer, measured in the same run on the same database: the same questions answered the way
a request log without rollups or keyset pagination answers them (GROUP BY over the spend log,
an OFFSET page), as ratios against the gateway's routes.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from inferstack.bench.console_data import (
    MODELS,
    DataSpec,
    add_spec_arguments,
    generate,
    spec_from_args,
)
from inferstack.bench.pgcluster import postgres_cluster

__all__ = ["Route", "console_context", "main", "measure", "routes"]

Params = Callable[[random.Random, dict[str, Any]], dict[str, Any]]


@dataclass
class Route:
    name: str
    path: str
    params: Params
    who: str = "admin"  # admin | user | team_admin
    latencies_ms: list[float] = field(default_factory=list)
    failures: int = 0


def _key(rng: random.Random, ctx: dict[str, Any]) -> str:
    return f"key_{rng.randrange(ctx['keys']):06d}"


def _team(rng: random.Random, ctx: dict[str, Any]) -> str:
    return f"team_{rng.randrange(ctx['teams']):04d}"


def _user(rng: random.Random, ctx: dict[str, Any]) -> str:
    return f"user_{rng.randrange(ctx['users']):05d}"


def routes() -> list[Route]:
    """Every call the console's pages make, with the parameters they make them with."""
    page = {"paginate": "true", "limit": 50}
    return [
        Route("keys page (/key/list, 50)", "/key/list", lambda r, c: {"limit": 50}),
        Route(
            "keys page 2 (cursor)",
            "/key/list",
            lambda r, c: {"limit": 50, "cursor": c["key_cursor"]},
        ),
        Route("keys of a team", "/key/list", lambda r, c: {"limit": 50, "team_id": _team(r, c)}),
        Route("key info", "/key/info", lambda r, c: {"key_id": _key(r, c)}),
        Route("teams (/team/list)", "/team/list", lambda r, c: {}),
        Route("team info", "/team/info", lambda r, c: {"team_id": _team(r, c)}),
        Route("users page (/user/list, 50)", "/user/list", lambda r, c: {"limit": 50}),
        Route("user info", "/user/info", lambda r, c: {"user_id": _user(r, c)}),
        Route("models (/model/info)", "/model/info", lambda r, c: {}),
        Route("audit page", "/audit", lambda r, c: {"limit": 50}),
        Route("logs page", "/spend/logs", lambda r, c: page),
        Route(
            "logs page 2 (cursor)",
            "/spend/logs",
            lambda r, c: {"limit": 50, "cursor": c["log_cursor"]},
        ),
        Route("logs of a key", "/spend/logs", lambda r, c: page | {"key_id": _key(r, c)}),
        Route("logs of a team", "/spend/logs", lambda r, c: page | {"team_id": _team(r, c)}),
        Route("logs of a model", "/spend/logs", lambda r, c: page | {"model": r.choice(MODELS)}),
        Route("error logs", "/spend/logs", lambda r, c: page | {"status": "error"}),
        Route(
            "usage by model, hourly, 24 h",
            "/usage/timeseries",
            lambda r, c: {"group_by": "model", "granularity": "hour"},
        ),
        Route(
            "usage by team, daily, 30 d",
            "/usage/timeseries",
            lambda r, c: {"group_by": "team", "granularity": "day"},
        ),
        Route(
            "usage by key, per minute, 1 h",
            "/usage/timeseries",
            lambda r, c: {"group_by": "key", "granularity": "minute"},
        ),
        Route(
            "usage of a team by model, daily",
            "/usage/timeseries",
            lambda r, c: {"group_by": "model", "granularity": "day", "team_id": _team(r, c)},
        ),
        Route("top keys, 30 d", "/usage/top", lambda r, c: {"group_by": "key"}),
        Route("top teams, 30 d", "/usage/top", lambda r, c: {"group_by": "team"}),
        Route("top users, 30 d", "/usage/top", lambda r, c: {"group_by": "user"}),
        Route("top models, 30 d", "/usage/top", lambda r, c: {"group_by": "model"}),
        Route(
            "own usage (internal user)",
            "/usage/timeseries",
            lambda r, c: {"group_by": "model", "granularity": "day"},
            who="user",
        ),
        Route("own logs (internal user)", "/spend/logs", lambda r, c: page, who="user"),
        Route(
            "team usage (team admin)",
            "/usage/top",
            lambda r, c: {"group_by": "key"},
            who="team_admin",
        ),
        Route("team logs (team admin)", "/spend/logs", lambda r, c: page, who="team_admin"),
    ]


# The peer: the same questions asked of the request log directly (no rollups, OFFSET pages).
PEERS = {
    "top keys, 30 d": """SELECT key_id, sum(cost) FROM spend_logs
        WHERE created_at >= now() - interval '30 days' GROUP BY key_id
        ORDER BY 2 DESC LIMIT 10""",
    "usage by team, daily, 30 d": """SELECT date_trunc('day', created_at), team_id, count(*),
        sum(prompt_tokens), sum(completion_tokens), sum(cost)
        FROM spend_logs WHERE created_at >= now() - interval '30 days' GROUP BY 1, 2""",
    "logs page 2 (cursor)": """SELECT * FROM spend_logs ORDER BY created_at DESC, id DESC
        OFFSET {offset} LIMIT 50""",
}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _start_gateway(tmp: Path, url: str) -> tuple[subprocess.Popen[bytes], str, str]:
    port = _free_port()
    groups = {
        m: {"deployments": [{"api_base": "http://127.0.0.1:9/v1", "name": m}]} for m in MODELS
    }
    config = {"database_url": url, "model_groups": groups, "health_check": {"enabled": False}}
    (tmp / "gateway.yaml").write_text(yaml.safe_dump(config))
    log = (tmp / "gateway.log").open("wb")
    cmd = [
        sys.executable,
        "-m",
        "inferstack.cli.main",
        "gateway",
        "--config",
        str(tmp / "gateway.yaml"),
        "--port",
        str(port),
        "--state-dir",
        str(tmp / "state"),
    ]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the gateway exited: {(tmp / 'gateway.log').read_text()}")
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                master = (tmp / "state" / "master_key").read_text().strip()
                return proc, base, master
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the gateway did not start")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def console_context(client: httpx.AsyncClient, spec: DataSpec, master: str) -> dict[str, Any]:
    """Cursors for second pages, and keys of an internal user and of a team admin."""
    admin = {"Authorization": f"Bearer {master}"}
    ctx: dict[str, Any] = {"keys": spec.keys, "teams": spec.teams, "users": spec.users}
    keys = (await client.get("/key/list", params={"limit": 50}, headers=admin)).json()
    ctx["key_cursor"] = keys["next_cursor"]
    logs = await client.get("/spend/logs", params={"paginate": "true", "limit": 50}, headers=admin)
    ctx["log_cursor"] = logs.json()["next_cursor"]
    for who, user in (("user", f"user_{spec.teams + 1:05d}"), ("team_admin", "user_00000")):
        made = await client.post("/key/generate", json={"user_id": user}, headers=admin)
        made.raise_for_status()
        ctx[who] = made.json()["key"]
    ctx["admin"] = master
    return ctx


async def measure(
    client: httpx.AsyncClient, table: list[Route], ctx: dict[str, Any], samples: int, seed: int
) -> None:
    rng = random.Random(seed)
    for route in table:
        headers = {"Authorization": f"Bearer {ctx[route.who]}"}
        for _ in range(samples):
            params = route.params(rng, ctx)
            started = time.perf_counter()
            response = await client.get(route.path, params=params, headers=headers)
            route.latencies_ms.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                route.failures += 1
                print(
                    f"  {route.name}: {response.status_code} {response.text[:200]}", file=sys.stderr
                )


async def _peers(conn: Any, spec: DataSpec, samples: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    rng = random.Random(1)
    for name, sql in PEERS.items():
        out[name] = []
        for _ in range(samples):
            query = sql.format(offset=rng.randrange(spec.requests // 4, spec.requests // 2))
            started = time.perf_counter()
            await conn.fetch(query)
            out[name].append((time.perf_counter() - started) * 1000)
    return out


def _report(
    table: list[Route], peers: dict[str, list[float]], timings: dict[str, float]
) -> dict[str, Any]:
    print(f"\n{'route':<36} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'fail':>5}")
    rows = []
    for r in table:
        p50, p95 = _percentile(r.latencies_ms, 0.5), _percentile(r.latencies_ms, 0.95)
        worst = max(r.latencies_ms)
        n = len(r.latencies_ms)
        print(f"{r.name:<36} {n:>4} {p50:>8.1f} {p95:>8.1f} {worst:>8.1f} {r.failures:>5}")
        rows.append(
            {
                "route": r.name,
                "path": r.path,
                "n": len(r.latencies_ms),
                "p50_ms": p50,
                "p95_ms": p95,
                "max_ms": worst,
                "failures": r.failures,
            }
        )
    by_name = {r.name: r for r in table}
    print(f"\n{'peer (request log only)':<36} {'p95 ms':>8} {'route p95':>10} {'ratio':>7}")
    ratios = []
    for name, values in peers.items():
        peer, ours = _percentile(values, 0.95), _percentile(by_name[name].latencies_ms, 0.95)
        print(f"{name:<36} {peer:>8.1f} {ours:>10.1f} {peer / ours:>6.1f}x")
        ratios.append(
            {"question": name, "peer_p95_ms": peer, "route_p95_ms": ours, "ratio": peer / ours}
        )
    slowest = max(table, key=lambda r: _percentile(r.latencies_ms, 0.95))
    print(
        f"\nslowest p95: {slowest.name} {_percentile(slowest.latencies_ms, 0.95):.1f} ms; "
        f"generation: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
    )
    return {"routes": rows, "peers": ratios, "generation_s": timings}


async def run(spec: DataSpec, samples: int, peer_samples: int, seed: int) -> dict[str, Any]:
    import asyncpg

    with postgres_cluster() as url, tempfile.TemporaryDirectory(prefix="console-load-") as tmp:
        proc, base, master = _start_gateway(Path(tmp), url)
        try:
            conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
            try:
                print(f"generating {spec.requests:,} requests, {spec.keys:,} keys ...", flush=True)
                timings = await generate(
                    conn, spec, log=lambda line: print("  " + line, flush=True)
                )
                async with httpx.AsyncClient(base_url=base, timeout=60) as client:
                    ctx = await console_context(client, spec, master)
                    table = routes()
                    await measure(client, table, ctx, samples, seed)
                peers = await _peers(conn, spec, peer_samples)
            finally:
                await conn.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return _report(table, peers, timings) | {"spec": spec.__dict__, "samples": samples}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m inferstack.bench.console_load", description=__doc__.split("\n")[0]
    )
    add_spec_arguments(parser)
    parser.add_argument("--samples", type=int, default=30, help="calls per route")
    parser.add_argument("--peer-samples", type=int, default=5, help="peer queries per question")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    spec = spec_from_args(args)
    result = asyncio.run(run(spec, args.samples, args.peer_samples, args.seed))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2))
    return 1 if any(r["failures"] for r in result["routes"]) else 0


if __name__ == "__main__":
    sys.exit(main())
