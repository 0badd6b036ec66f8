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
from pathlib import Path
from typing import Any

from inferstack.cli.bench_args import DEFAULT_REQUESTS, PEER_CHOICES, peer_parser, run_options

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Register ``inferstack bench`` and its ``compare`` and ``peer`` forms."""
    p = subparsers.add_parser(
        "bench",
        help="load-test OpenAI-compatible servers: throughput, latency, cost",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run_options(p, suppress=False)
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
    run_options(c, suppress=True)
    peer_parser(sub)
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
    if given in PEER_CHOICES:
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
