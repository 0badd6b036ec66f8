"""Where does an open-loop request's time to first token go? (Issue 17, item 5: the simulator
predicted TTFT p50 ~15 ms below the measured one even at the lightest rate.)

Against one real server (started here with measure.sh's settings, or ``--url``) it runs a
closed loop at one stream, one at two streams, then open-loop Poisson arrivals drawn exactly as
``inferstack bench --rate`` draws them, keeping every request's timeline (scheduled arrival,
send, every text chunk, end). Each open-loop request is then classed by what the server was
doing when it arrived, from the client's own timelines:

- ``idle``: no other request in flight;
- ``decode1``: exactly one other request in flight, already streaming tokens. For these the
  other stream's chunks show the decode step the newcomer arrived in (``step_in``), how long
  after its arrival that step ended (``residual``), and the step after it, which carries the
  newcomer's prefill when it joins at that boundary (``mixed``: the other stream's gap between
  the two chunks around the newcomer's first token).
- ``other``: anything busier.

The server's own /metrics (mean server-side TTFT, queue wait, prefix tokens reused) are read
between phases, so client overhead and prefix-cache hits show too.

    PYTHONPATH=src python docs/plan/ttft_probe.py OUT.json [--rate 0.8] [--requests 40]

Prints a summary and writes every timeline to OUT.json.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as otlp

from inferstack.bench.client import Target, discover_model, make_client, send
from inferstack.bench.levels import poisson_arrivals
from inferstack.bench.records import RequestRecord
from inferstack.bench.workload import Endpoint, Workload, default_prompts
from inferstack.plan.profiles import load_profile, save_profile

METRICS = ("inferstack_time_to_first_token_seconds", "inferstack_queue_wait_seconds")


class Probe:
    def __init__(self, url: str, tokens: int) -> None:
        self.url = url
        self.target = Target(name="server", base_url=url + "/v1", model=None)
        self.workload = Workload(
            prompts=default_prompts(), endpoint=Endpoint.COMPLETIONS, max_tokens=tokens,
            ignore_eos=True,
        )  # fmt: skip
        self.counter = 0

    async def one(
        self, client: httpx.AsyncClient, start: float, prompt: int | None = None
    ) -> RequestRecord:
        record = RequestRecord(start=start)
        body = self.workload.body(self.counter if prompt is None else prompt, self.target.model)
        self.counter += 1
        record.sent = time.perf_counter()
        return await send(client, self.target, "/completions", body, record)

    async def closed(self, client: httpx.AsyncClient, streams: int, n: int) -> list[RequestRecord]:
        out: list[RequestRecord] = []

        async def stream() -> None:
            while len(out) < n:
                out.append(await self.one(client, time.perf_counter()))

        await asyncio.gather(*(stream() for _ in range(streams)))
        return out

    async def open(self, client: httpx.AsyncClient, rate: float, n: int) -> list[RequestRecord]:
        offsets = poisson_arrivals(rate, n, None, seed=int(rate * 1000))  # bench: seed 0 + ...
        t0 = time.perf_counter()
        tasks = []
        for offset in offsets:
            delay = t0 + offset - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.one(client, t0 + offset)))
        return list(await asyncio.gather(*tasks))

    async def idle_sweep(
        self, client: httpx.AsyncClient, pauses: list[float], n: int
    ) -> list[RequestRecord]:
        """One request after each pause in ``pauses`` (interleaved, ``n`` rounds) on an
        otherwise idle server, always the same prompt; ``record.detail`` holds the pause."""
        out = []
        for k in range(n):
            for pause in pauses[k % len(pauses) :] + pauses[: k % len(pauses)]:
                await asyncio.sleep(pause)
                record = await self.one(client, time.perf_counter(), prompt=0)
                record.detail = str(pause)
                out.append(record)
        return out

    def metrics(self) -> dict[str, float]:
        text = httpx.get(self.url + "/metrics", timeout=30).text
        out: dict[str, float] = {}
        for line in text.splitlines():
            m = re.match(r"(inferstack_\w+?)(_sum|_count|_total)?(\{[^}]*\})? ([0-9.e+-]+)$", line)
            if m and (m.group(1) in METRICS or "prefill_tokens_saved" in m.group(1)):
                key = m.group(1) + (m.group(2) or "")
                out[key] = out.get(key, 0.0) + float(m.group(4))
        return out


def server_side(before: dict[str, float], after: dict[str, float]) -> dict[str, float | None]:
    def mean(name: str) -> float | None:
        n = after.get(name + "_count", 0) - before.get(name + "_count", 0)
        return (
            (after.get(name + "_sum", 0) - before.get(name + "_sum", 0)) / n * 1000 if n else None
        )

    saved = "inferstack_prefill_tokens_saved_total"
    return {
        "server_ttft_mean_ms": mean(METRICS[0]),
        "queue_wait_mean_ms": mean(METRICS[1]),
        "prefix_tokens_saved": after.get(saved, 0) - before.get(saved, 0),
    }


def _ms(x: float) -> float:
    return round(x * 1000, 2)


def classify(records: list[RequestRecord]) -> list[dict[str, object]]:
    """Per open-loop request: its TTFT, client wait, and what the server was doing."""
    rows = []
    for r in records:
        if not r.chunk_times:
            continue
        others = [o for o in records if o is not r and o.start < r.start < o.end]
        row: dict[str, object] = {
            "ttft_ms": _ms(r.chunk_times[0] - r.start),
            "client_wait_ms": _ms(r.client_wait),
            "others": len(others),
            "class": "idle" if not others else "other",
        }
        if len(others) == 1 and others[0].chunk_times and others[0].chunk_times[0] < r.start:
            times = others[0].chunk_times
            i = next((k for k, t in enumerate(times) if t > r.start), None)
            if i is not None and i >= 1:
                row.update(
                    {
                        "class": "decode1",
                        "step_in_ms": _ms(times[i] - times[i - 1]),
                        "residual_ms": _ms(times[i] - r.start),
                    }
                )
        rows.append(row)
    return rows


def _p50(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def gaps_p50(records: list[RequestRecord]) -> float | None:
    gaps = [g for r in records for g in r.inter_token_gaps()]
    return _p50([g * 1000 for g in gaps])


def _server_line(phases: list[dict[str, float]], recs: list[RequestRecord]) -> str:
    """p50 of each server phase, ms after the client sent the request."""
    if not any(phases):
        return ""
    parts = []
    for key in ("handler", "queued", "admitted", "sampled", "first_out"):
        parts.append(f"{key} {_p50([p[key] for p in phases if key in p])}")
    client = [(r.chunk_times[0] - (r.sent or r.start)) * 1000 for r in recs if r.chunk_times]
    return "; server ms after send: " + ", ".join(parts) + f", client first chunk {_p50(client)}"


def summary(phases: dict[str, dict[str, object]]) -> None:
    for name, ph in phases.items():
        recs: list[RequestRecord] = ph["records"]  # type: ignore[assignment]
        server: list[dict[str, float]] = ph.get("server_phases") or [{} for _ in recs]  # type: ignore[assignment]
        ttfts = [(r.chunk_times[0] - r.start) * 1000 for r in recs if r.chunk_times]
        print(f"{name}: n={len(recs)} TTFT p50 {_p50(ttfts)} ms, ITL p50 {gaps_p50(recs)} ms, "
              f"server {ph['server']}{_server_line(server, recs)}")  # fmt: skip
        rows = ph.get("rows")
        if not rows:
            continue
        ok = [i for i, r in enumerate(recs) if r.chunk_times]
        for cls in ("idle", "decode1", "other"):
            idx = [i for i, x in zip(ok, rows, strict=True) if x["class"] == cls]  # type: ignore[index]
            sel = [rows[ok.index(i)] for i in idx]  # type: ignore[index]
            if not sel:
                continue
            line = f"  {cls}: n={len(sel)} TTFT p50 {_p50([x['ttft_ms'] for x in sel])} ms"
            for key in ("client_wait_ms", "step_in_ms", "residual_ms"):
                vals = [x[key] for x in sel if x.get(key) is not None]
                if vals:
                    line += f", {key} p50 {_p50(vals)}"
            print(line + _server_line([server[i] for i in idx], [recs[i] for i in idx]))
        steps_by_batch(recs)


def steps_by_batch(recs: list[RequestRecord]) -> None:
    """Every inter-token gap of the open loop as one step, grouped by the sequences decoding
    in it (from the client timelines) and by whether another request's first token ended it
    (a mixed step: that prompt's prefill rode on it)."""
    done = [r for r in recs if r.chunk_times]
    firsts = {id(r): r.chunk_times[0] for r in done}
    groups: dict[tuple[int, bool], list[float]] = {}
    for r in done:
        for a, b in itertools.pairwise(r.chunk_times):
            decoding = 1 + sum(
                1 for o in done if o is not r and o.chunk_times[0] < a - 1e-3 and o.end > b
            )
            mixed = any(a + 1e-3 < t <= b + 2e-3 for k, t in firsts.items() if k != id(r))
            groups.setdefault((decoding, mixed), []).append((b - a) * 1000)
    for (batch, mixed), gaps in sorted(groups.items()):
        if len(gaps) >= 5:
            kind = "decode + a prefill" if mixed else "decode only"
            print(f"    steps with {batch} decoding, {kind}: n={len(gaps)} p50 {_p50(gaps)} ms")


class Spans:
    """A minimal OTLP/HTTP trace receiver: the server's own per-request phase times."""

    def __init__(self) -> None:
        self.spans: list[dict[str, object]] = []
        spans = self.spans

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                req = otlp.ExportTraceServiceRequest.FromString(body)
                for rs in req.resource_spans:
                    for ss in rs.scope_spans:
                        for sp in ss.spans:
                            spans.append({
                                "name": sp.name, "trace": sp.trace_id.hex(),
                                "start_ns": sp.start_time_unix_nano,
                                "end_ns": sp.end_time_unix_nano,
                                "events": {e.name: e.time_unix_nano for e in sp.events},
                            })  # fmt: skip
                out = otlp.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1/traces"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def requests(self) -> list[dict[str, float]]:
        """Per traced request, its phase times (wall-clock seconds): handler start, queued
        (submitted to the scheduler), admitted, first token sampled, first token handed out."""
        by_trace: dict[str, dict[str, float]] = {}
        for sp in self.spans:
            row = by_trace.setdefault(str(sp["trace"]), {})
            name = str(sp["name"])
            if name == "queue":
                row["queued"], row["admitted"] = sp["start_ns"] / 1e9, sp["end_ns"] / 1e9  # type: ignore[operator]
            elif name == "prefill":
                row["sampled"] = sp["end_ns"] / 1e9  # type: ignore[operator]
            elif name not in ("decode",):
                row["handler"] = sp["start_ns"] / 1e9  # type: ignore[operator]
                first = sp["events"].get("gen_ai.first_token")  # type: ignore[attr-defined]
                if first:
                    row["first_out"] = first / 1e9
        return sorted(
            (r for r in by_trace.values() if {"handler", "queued", "sampled"} <= r.keys()),
            key=lambda r: r["handler"],
        )


def attach(
    records: list[RequestRecord], spans: list[dict[str, float]], offset: float
) -> list[dict[str, float]]:
    """Server phases (ms after the client sent it) of every record: the first traced request
    whose handler started at or after the send."""
    out = []
    for r in records:
        sent = (r.sent or r.start) + offset
        match = next((s for s in spans if s["handler"] >= sent - 1e-4), None)
        if match is None or match["handler"] - sent > 0.5:
            out.append({})
            continue
        out.append({k: _ms(v - sent) for k, v in match.items()})
    return out


def sweep_summary(ph: dict[str, object]) -> None:
    """TTFT and the server's prefill time (admitted to first token sampled) per pause."""
    recs: list[RequestRecord] = ph["records"]  # type: ignore[assignment]
    server: list[dict[str, float]] = ph.get("server_phases") or [{} for _ in recs]  # type: ignore[assignment]
    by: dict[str, list[tuple[RequestRecord, dict[str, float]]]] = {}
    for r, s in zip(recs, server, strict=True):
        if r.chunk_times:
            by.setdefault(r.detail, []).append((r, s))
    for pause, items in sorted(by.items(), key=lambda kv: float(kv[0])):
        ttft = [(r.chunk_times[0] - r.start) * 1000 for r, _ in items]
        gap = [
            (r.chunk_times[1] - r.chunk_times[0]) * 1000 for r, _ in items if len(r.chunk_times) > 1
        ]
        prefill = [s["sampled"] - s["admitted"] for _, s in items if "sampled" in s]
        print(f"  after {pause} s idle: n={len(items)} TTFT p50 {_p50(ttft)} ms, "
              f"server prefill p50 {_p50(prefill)} ms, first gap p50 {_p50(gap)} ms")  # fmt: skip


def write_wake(path: Path, records: list[RequestRecord]) -> None:
    """Record the wake-up cost (TTFT p50 after the longest pause minus after none)."""
    by: dict[float, list[float]] = {}
    for r in records:
        if r.chunk_times:
            by.setdefault(float(r.detail), []).append((r.chunk_times[0] - r.start) * 1000)
    longest = max(by)
    if 0.0 not in by or longest == 0.0:
        sys.exit("--profile needs pauses 0 and a longer one")
    wake = statistics.median(by[longest]) - statistics.median(by[0.0])
    profile = load_profile(path)
    update = {"wake_ms": round(max(wake, 0.0), 2), "wake_pause_s": longest}
    save_profile(profile.model_copy(update=update), path)
    print(f"wrote wake_ms {update['wake_ms']} (after {longest} s idle) into {path}")


def load(path: Path) -> dict[str, dict[str, object]]:
    """The phases of an OUT.json this script wrote."""
    phases: dict[str, dict[str, object]] = {}
    for name, ph in json.loads(path.read_text()).items():
        records = []
        for r in ph["records"]:
            record = RequestRecord(start=r["start"], end=r["end"], sent=r["sent"])
            record.chunk_times, record.prompt_tokens = r["chunks"], r["prompt_tokens"]
            record.error, record.detail = r["error"], str(r.get("detail", ""))
            records.append(record)
        phases[name] = {**ph, "records": records}
    return phases


def start_server(
    binary: str, threads: int, log: Path, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [binary, "serve", "--model", "default", "--port", str(port), "--threads", str(threads),
           "--parallel", "8"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=os.environ | env
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(1200):
        if proc.poll() is not None:
            sys.exit(f"server exited: see {log}")
        try:
            if httpx.get(url + "/ready", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    sys.exit("server not ready")


async def run(args: argparse.Namespace, url: str) -> dict[str, dict[str, object]]:
    probe = Probe(url, args.tokens)
    phases: dict[str, dict[str, object]] = {}
    async with make_client(64, 300) as client:
        probe.target.model = await discover_model(client, probe.target)
        await probe.closed(client, 1, 2)  # warm-up
        plan = []
        if not args.no_closed:
            plan = [("closed1", lambda: probe.closed(client, 1, args.closed)),
                    ("closed2", lambda: probe.closed(client, 2, args.closed))]  # fmt: skip
        if args.idle_sweep:
            pauses = [float(x) for x in args.idle_sweep.split(",")]
            plan.append(("idle_sweep", lambda: probe.idle_sweep(client, pauses, args.closed)))
        plan += [(f"open{rate:g}", lambda r=rate: probe.open(client, r, args.requests))
                 for rate in args.rate]  # fmt: skip
        for name, phase in plan:
            before = probe.metrics()
            records = await phase()
            phases[name] = {"records": records, "server": server_side(before, probe.metrics())}
            if name.startswith("open"):
                phases[name]["rows"] = classify(records)
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--url", help="a running server (default: start one)")
    parser.add_argument("--bin", default=os.environ.get("BIN", ".venv/bin/inferstack"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rate", type=float, action="append", help="req/s (repeatable)")
    parser.add_argument("--requests", type=int, default=40, help="per open-loop rate")
    parser.add_argument("--closed", type=int, default=12, help="per closed-loop phase")
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument(
        "--idle-sweep", metavar="SECONDS,...",
        help="also: one request after each of these pauses, --closed rounds, interleaved",
    )  # fmt: skip
    parser.add_argument("--no-closed", action="store_true", help="skip the closed loops")
    parser.add_argument(
        "--profile", type=Path,
        help="write the sweep's wake-up cost into this profile: wake_ms = TTFT p50 after the "
        "longest pause minus TTFT p50 after none (the first two pauses must include 0)",
    )  # fmt: skip
    parser.add_argument(
        "--trace", action="store_true",
        help="export the server's spans to a receiver here: per-request server phases",
    )  # fmt: skip
    parser.add_argument(
        "--summarize", action="store_true", help="print the summary of an OUT.json written before"
    )
    args = parser.parse_args()
    if args.summarize:
        summary(load(args.out))
        return
    if args.rate is None:
        args.rate = [] if args.idle_sweep else [0.8]
    proc = None
    url = args.url
    spans = Spans() if args.trace else None
    env = {}
    if spans is not None:
        env = {
            "INFERSTACK_TELEMETRY_EXPORTER": "otlp",
            "INFERSTACK_TELEMETRY_ENDPOINT": spans.endpoint,
        }
    if url is None:
        log = args.out.with_suffix(".serve.log")
        proc, url = start_server(args.bin, args.threads, log, env)
    offset = time.time() - time.perf_counter()
    try:
        phases = asyncio.run(run(args, url))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=60)
    if spans is not None:
        time.sleep(0.5)  # the last export (the server flushes its spans when it stops)
        served = spans.requests()
        for ph in phases.values():
            ph["server_phases"] = attach(ph["records"], served, offset)  # type: ignore[arg-type]
    summary(phases)
    if "idle_sweep" in phases:
        sweep_summary(phases["idle_sweep"])
        if args.profile is not None:
            write_wake(args.profile, phases["idle_sweep"]["records"])  # type: ignore[arg-type]
    dump = {
        name: {
            "server": ph["server"],
            "rows": ph.get("rows"),
            "server_phases": ph.get("server_phases"),
            "records": [
                {
                    "start": r.start,
                    "sent": r.sent,
                    "end": r.end,
                    "chunks": r.chunk_times,
                    "prompt_tokens": r.prompt_tokens,
                    "error": r.error,
                    "detail": r.detail,
                }
                for r in ph["records"]  # type: ignore[attr-defined]
            ],
        }
        for name, ph in phases.items()
    }
    args.out.write_text(json.dumps(dump, indent=1))


if __name__ == "__main__":
    main()
