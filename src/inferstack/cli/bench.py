"""``inferstack bench``: load-test OpenAI-compatible servers (see :mod:`inferstack.bench`).

    inferstack bench --url http://127.0.0.1:8000 --concurrency 1,2,4,8 --requests 64 \\
        --max-tokens 128 --output DIR
    inferstack bench compare inferstack=http://127.0.0.1:8000 llama-server=http://127.0.0.1:8081
    inferstack bench peer llama-server --port 8081 --parallel 16

The reference benchmark's variables ``URL``, ``REQUESTS_PER_PROMPT`` and
``NUM_WARMUP_REQUESTS`` are read when the matching flags are not given.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run"]

DEFAULT_REQUESTS = 64
_PEER_CHOICES = ("inferstack", "reference", "llama-server", "litellm", "gateway", "echo")


def _floats(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers: {text!r}") from exc


def _slo(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        if not sep:
            raise ValueError(text)
        return name.strip(), float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected METRIC=MS such as ttft_p90=2000: {text!r}"
        ) from exc


def _run_options(p: argparse.ArgumentParser, suppress: bool) -> None:
    """The options of a run; under ``compare`` they default to SUPPRESS so that options given
    before the word ``compare`` keep their values."""

    def d(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    g = p.add_argument_group("target")
    g.add_argument("--url", default=d(None), help="server URL (default: $URL); /v1 is added")
    g.add_argument("--name", default=d(None), help="label of the --url target in the report")
    g.add_argument("--api-key", default=d(None), help="sent as Authorization: Bearer KEY")
    g.add_argument("--pid", type=int, default=d(None), help="PID to sample CPU use from")
    g.add_argument("--no-cpu", action="store_true", default=d(False), help="skip CPU sampling")
    g.add_argument(
        "--allow-remote", action="store_true", default=d(False), help="allow non-loopback hosts"
    )
    g = p.add_argument_group("peers started for the run (on 127.0.0.1, stopped afterwards)")
    g.add_argument(
        "--peer",
        action="append",
        choices=_PEER_CHOICES,
        default=d([]),
        help="start this server as a further target, named after it (repeatable; in order); "
        "litellm and gateway proxy to --peer-upstream, by default the first target; echo is "
        "a fast fake upstream (16 tokens per answer, no model) for measuring gateways",
    )
    g.add_argument(
        "--peer-upstream",
        default=d(None),
        help="the upstream OpenAI URL of litellm and gateway, or the name of a peer started "
        "before them (e.g. echo)",
    )
    g.add_argument("--peer-model", default=d("default"), help="GGUF path or 'default'")
    g.add_argument("--peer-threads", type=int, default=d(2), help="threads of each peer (2)")
    g.add_argument("--peer-parallel", type=int, default=d(16), help="slots of batching peers (16)")
    g.add_argument(
        "--peer-ctx", type=int, default=d(2048), help="context tokens per sequence (2048)"
    )
    g = p.add_argument_group("load")
    g.add_argument(
        "--concurrency",
        type=_floats,
        default=d(None),
        help="streams per level, e.g. 1,2,4,8 (default 1,2,4,8,16,32)",
    )
    g.add_argument(
        "--rate",
        type=_floats,
        default=d(None),
        help="open loop: Poisson request rates per second, e.g. 0.5,1,2",
    )
    g.add_argument(
        "--requests",
        type=int,
        default=d(None),
        help=f"measured requests per level (default {DEFAULT_REQUESTS}, "
        "or prompts x $REQUESTS_PER_PROMPT)",
    )
    g.add_argument(
        "--duration",
        type=float,
        default=d(None),
        help="seconds of new requests per level (instead of or with --requests)",
    )
    g.add_argument(
        "--warmup",
        type=int,
        default=d(None),
        help="warm-up requests per level (default: one per stream; $NUM_WARMUP_REQUESTS)",
    )
    g.add_argument(
        "--min-gain",
        type=float,
        default=d(0.05),
        help="stop when tok/s grows less than this (default 0.05; 0 = off)",
    )
    g.add_argument(
        "--slo",
        type=_slo,
        action="append",
        default=d([]),
        metavar="METRIC=MS",
        help="stop when e.g. ttft_p90=2000 is exceeded (repeatable)",
    )
    g.add_argument(
        "--max-error-rate",
        type=float,
        default=d(0.1),
        help="stop above this failed fraction (default 0.1)",
    )
    g.add_argument(
        "--max-total-requests", type=int, default=d(5000), help="hard cap on requests in the run"
    )
    g.add_argument(
        "--max-run-seconds", type=float, default=d(1800.0), help="hard cap on the run's time"
    )
    g.add_argument(
        "--request-timeout", type=float, default=d(300.0), help="per-request timeout (s)"
    )
    g.add_argument("--seed", type=int, default=d(0), help="seed of arrivals and synthetic prompts")
    g = p.add_argument_group("workload")
    g.add_argument(
        "--prompts", default=d(None), help="prompts file, one per line (default: the packaged set)"
    )
    g.add_argument(
        "--synthetic-input-tokens",
        type=int,
        default=d(None),
        help="use synthetic prompts of about N tokens",
    )
    g.add_argument(
        "--synthetic-prompts",
        type=int,
        default=d(64),
        help="how many synthetic prompts (default 64)",
    )
    g.add_argument(
        "--endpoint",
        choices=("chat", "completions"),
        default=d(None),
        help="API endpoint (default chat)",
    )
    g.add_argument(
        "--model",
        default=d(None),
        help="the requests' model field (default: each target's first /v1/models id)",
    )
    g.add_argument(
        "--max-tokens", type=int, default=d(128), help="max_tokens per request (default 128)"
    )
    g.add_argument(
        "--temperature", type=float, default=d(0.0), help="sampling temperature (default 0)"
    )
    g.add_argument(
        "--ignore-eos",
        action="store_true",
        default=d(False),
        help="send ignore_eos so every answer is max_tokens long (llama-server, vLLM)",
    )
    g.add_argument(
        "--extra-body",
        type=json.loads,
        default=d({}),
        metavar="JSON",
        help="further request fields as a JSON object, e.g. "
        '\'{"response_format": {"type": "json_object"}}\'',
    )
    g.add_argument(
        "--variant",
        action="append",
        default=d([]),
        metavar="NAME[=JSON]",
        help="also measure the first target with these request fields, as a further target "
        "named NAME: a preset (json_schema, json_object, tools_required) or NAME=JSON "
        "(repeatable; see inferstack.bench.variants)",
    )
    g = p.add_argument_group("output")
    g.add_argument(
        "--price-per-hour",
        type=float,
        default=d(None),
        help="$ per hour of the serving capacity (cost per 1M tokens)",
    )
    g.add_argument(
        "--output", default=d(None), help="results folder (default bench-results/TIMESTAMP)"
    )
    g.add_argument("--no-plots", action="store_true", default=d(False), help="skip PNG plots")
    g.add_argument(
        "--profile",
        default=d(None),
        metavar="FILE",
        help="also write a throughput profile for `inferstack plan` (closed loop only)",
    )
    g.add_argument(
        "--profile-field",
        action="append",
        default=d([]),
        metavar="KEY=VALUE",
        help="profile facts the run cannot know, e.g. quantization=Q4_K_M engine=llama.cpp "
        "instance=c8g.xlarge threads=2 parallel=8 (repeatable)",
    )


def _peer_parser(sub: Any) -> None:
    p = sub.add_parser(
        "peer",
        help="start a comparison peer on 127.0.0.1 (foreground, Ctrl-C stops it)",
        description="Start a benchmark peer: llama.cpp's llama-server (built once from the "
        "llama-cpp-python sdist), the reference design (llama-cpp-python's Llama behind one "
        "FastAPI route, one request at a time), LiteLLM's proxy (own venv) or inferstack's "
        "gateway (fresh state, a virtual key) in front of --upstream, or echo, a fast fake "
        "OpenAI upstream with no model (--extra-args '--tokens N', default 16).",
    )
    p.add_argument("kind", choices=tuple(k for k in _PEER_CHOICES if k != "inferstack"))
    p.add_argument("--model", default="default", help="GGUF path, or 'default' (Gemma 3 270M)")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    p.add_argument("--parallel", type=int, default=16, help="llama-server slots (default 16)")
    p.add_argument(
        "--ctx-size", type=int, default=2048, help="context tokens per sequence (default 2048)"
    )
    p.add_argument(
        "--upstream", default=None, help="litellm, gateway: the OpenAI base URL they proxy to"
    )
    p.add_argument("--build-only", action="store_true", help="build or install the peer, then exit")
    p.add_argument(
        "--extra-args", default="", help="further flags for the peer, as one quoted string"
    )


def add_parser(subparsers: Any) -> None:
    """Register ``inferstack bench`` and its ``compare`` and ``peer`` forms."""
    p = subparsers.add_parser(
        "bench",
        help="load-test OpenAI-compatible servers: throughput, latency, cost",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _run_options(p, suppress=False)
    sub = p.add_subparsers(dest="bench_command", metavar="{compare,peer}")
    c = sub.add_parser(
        "compare",
        help="several targets, interleaved level by level, ratios against the first",
    )
    c.add_argument(
        "targets",
        nargs="*",
        metavar="NAME=URL",
        help="targets; the first is the baseline (then any --peer, in order)",
    )
    _run_options(c, suppress=True)
    _peer_parser(sub)
    p.set_defaults(func=run)


def _targets(args: argparse.Namespace, peers: list[Any]) -> list[Any]:
    from inferstack.bench.client import Target
    from inferstack.bench.targets import check_host, local_pid, normalize_url, parse_target

    specs = [parse_target(t) for t in getattr(args, "targets", None) or []]
    if args.url:
        specs.insert(0, (args.name or parse_target(args.url)[0], args.url))
    if not specs and not peers:
        raise SystemExit("bench: give --url URL (or $URL), or: bench compare NAME=URL ...")
    targets = []
    for name, url in specs:
        base_url, _ = normalize_url(url)
        try:
            check_host(base_url, args.allow_remote)
        except ValueError as exc:
            raise SystemExit(f"bench: {exc}") from exc
        pid = None if args.no_cpu else (args.pid if len(specs) == 1 and args.pid else None)
        if pid is None and not args.no_cpu:
            pid = local_pid(base_url)
        targets.append(Target(name=name, base_url=base_url, api_key=args.api_key, pid=pid))
    for peer in peers:
        pid = None if args.no_cpu else peer.pid
        key = getattr(peer, "api_key", None)
        targets.append(Target(name=peer.name, base_url=peer.base_url, pid=pid, api_key=key))
    return targets + _variants(args, targets[0])


def _variants(args: argparse.Namespace, first: Any) -> list[Any]:
    from inferstack.bench.variants import variant_targets

    try:
        return variant_targets(args.variant, first)
    except ValueError as exc:
        raise SystemExit(f"bench --variant: {exc}") from exc


def build_run(
    args: argparse.Namespace, peers: list[Any] | None = None
) -> tuple[list[Any], Any, Any]:
    """Targets, workload and run config from the arguments and the reference variables.

    ``peers`` are started peer servers, appended as targets after the named ones.
    """
    from inferstack.bench.settings import DEFAULT_CONCURRENCY, LoopMode, ReferenceEnv, RunConfig
    from inferstack.bench.targets import normalize_url
    from inferstack.bench.workload import (
        Endpoint,
        Workload,
        default_prompts,
        load_prompts,
        synthetic_prompts,
    )

    env = ReferenceEnv()
    if args.url is None and not getattr(args, "targets", None) and not peers:
        args.url = env.URL
    targets = _targets(args, peers or [])
    named_endpoint = normalize_url(args.url)[1] if args.url else None
    if args.synthetic_input_tokens:
        prompts = synthetic_prompts(args.synthetic_prompts, args.synthetic_input_tokens, args.seed)
    else:
        prompts = load_prompts(args.prompts) if args.prompts else default_prompts()
    workload = Workload(
        prompts=prompts,
        endpoint=Endpoint(args.endpoint) if args.endpoint else (named_endpoint or Endpoint.CHAT),
        model=args.model,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        ignore_eos=args.ignore_eos,
        input_tokens=args.synthetic_input_tokens,
        extra_body=args.extra_body,
    )
    if args.rate and args.concurrency:
        raise SystemExit("bench: give --concurrency (closed loop) or --rate (open loop), not both")
    requests = args.requests
    if requests is None and env.REQUESTS_PER_PROMPT:
        requests = env.REQUESTS_PER_PROMPT * len(prompts)
    if requests is None and args.duration is None:
        requests = DEFAULT_REQUESTS
    warmup = args.warmup if args.warmup is not None else env.NUM_WARMUP_REQUESTS
    config = RunConfig(
        mode=LoopMode.OPEN if args.rate else LoopMode.CLOSED,
        levels=args.rate or args.concurrency or list(DEFAULT_CONCURRENCY),
        requests_per_level=requests,
        duration_s=args.duration,
        warmup_requests=warmup,
        min_gain=args.min_gain,
        slo_ms=dict(args.slo),
        max_error_rate=args.max_error_rate,
        max_total_requests=args.max_total_requests,
        max_run_s=args.max_run_seconds,
        request_timeout_s=args.request_timeout,
        price_per_hour=args.price_per_hour,
        seed=args.seed,
    )
    return targets, workload, config


def _run_peer(args: argparse.Namespace) -> int:
    """Start a peer and keep it in the foreground until Ctrl-C."""
    import shlex
    import threading

    from inferstack.bench.peers import PeerError, ensure_litellm, ensure_llama_server, make_peer

    try:
        if args.build_only:
            builders = {"llama-server": ensure_llama_server, "litellm": ensure_litellm}
            if args.kind in builders:
                print(builders[args.kind]())
            return 0
        peer = make_peer(
            args.kind,
            model=args.model,
            port=args.port,
            threads=args.threads,
            parallel=args.parallel,
            ctx_per_seq=args.ctx_size,
            upstream=args.upstream,
            extra_args=shlex.split(args.extra_args),
        ).start()
    except PeerError as exc:
        raise SystemExit(f"bench peer: {exc}") from exc
    key = f", api key {peer.api_key}" if peer.api_key else ""
    ready = f"{args.kind} ready: {peer.base_url} (pid {peer.pid}{key}, log {peer.log_path})"
    print(ready, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        peer.stop()
    return 0


def _peer_upstream(
    args: argparse.Namespace, kind: str, named: list[str], started: list[Any]
) -> str | None:
    """The upstream of a proxying peer: ``--peer-upstream`` (a URL, or the name of a peer
    started before it), else the first named target, else the first started peer."""
    from inferstack.bench.peers import PeerError
    from inferstack.bench.targets import normalize_url

    given = args.peer_upstream
    if given in _PEER_CHOICES:
        by_name = {p.name: p.base_url for p in started}
        if given not in by_name:
            raise PeerError(f"--peer-upstream {given}: start that peer before {kind}")
        return str(by_name[given])
    try:
        if given:
            return normalize_url(given)[0]
        if named:
            return normalize_url(named[0])[0]
    except ValueError as exc:
        raise PeerError(str(exc)) from exc
    return started[0].base_url if started else None


def _start_peers(args: argparse.Namespace) -> list[Any]:
    from inferstack.bench.peers import PeerError, make_peer
    from inferstack.bench.targets import parse_target

    named = [parse_target(t)[1] for t in getattr(args, "targets", None) or []]
    if args.url:
        named.insert(0, args.url)
    started: list[Any] = []
    try:
        for kind in args.peer:
            proxies = kind in ("litellm", "gateway")
            peer = make_peer(
                kind,
                model=args.peer_model,
                threads=args.peer_threads,
                parallel=args.peer_parallel,
                ctx_per_seq=args.peer_ctx,
                upstream=_peer_upstream(args, kind, named, started) if proxies else None,
            )
            started.append(peer.start())
    except PeerError as exc:
        for peer in started:
            peer.stop()
        raise SystemExit(f"bench: {exc}") from exc
    return started


def run(args: argparse.Namespace) -> int:
    """Run the benchmark (or start a peer) as the parsed arguments say."""
    if getattr(args, "bench_command", None) == "peer":
        return _run_peer(args)
    peers = _start_peers(args) if args.peer else []
    try:
        return _run_bench(args, peers)
    finally:
        for peer in peers:
            peer.stop()


def _run_bench(args: argparse.Namespace, peers: list[Any]) -> int:
    import asyncio

    from pydantic import ValidationError

    from inferstack.bench.outputs import write_outputs
    from inferstack.bench.progress import LiveProgress
    from inferstack.bench.ramp import Bench

    try:
        targets, workload, config = build_run(args, peers)
    except (ValidationError, ValueError, OSError) as exc:
        raise SystemExit(f"bench: {exc}") from exc
    output = Path(
        args.output or Path("bench-results") / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    )
    output.mkdir(parents=True, exist_ok=True)
    progress = LiveProgress()
    for t in targets:
        cpu = f", CPU of PID {t.pid}" if t.pid else ""
        progress.note(f"target {t.name}: {t.base_url}{cpu}")
    result = asyncio.run(Bench(targets, workload, config, progress).run())
    files = write_outputs(result, output, plots=not args.no_plots)
    progress.note("wrote " + ", ".join(str(output / f) for f in files))
    if args.profile:
        _write_profile(args, result)
        progress.note(f"wrote profile {args.profile}")
    return 0


def _write_profile(args: argparse.Namespace, result: Any) -> None:
    import shlex
    import sys

    from inferstack.bench.profile import profile_from_result
    from inferstack.plan.profiles import save_profile

    fields = dict(f.partition("=")[::2] for f in args.profile_field)
    command = "inferstack " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        save_profile(profile_from_result(result, command, fields), args.profile)
    except ValueError as exc:
        raise SystemExit(f"bench --profile: {exc}") from exc
