"""``inferstack serve``: one model server."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help="serve one model over the OpenAI API",
        description=(
            "Serve one model over the OpenAI API. MODEL is 'default' (the packaged Gemma 3 "
            "270M), 'default-embedding' (the packaged all-MiniLM-L6-v2), a local .gguf file or "
            "ONNX folder, or hf://org/repo/file.gguf."
        ),
    )
    p.add_argument("--model", default="default", help="model to serve (default: default)")
    p.add_argument(
        "--ray",
        metavar="CONFIG",
        default=None,
        help="run the applications of a Ray Serve config file (serveConfigV2) on a "
        "local Ray instead of one uvicorn server",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.add_argument("--engine", default=None, help="engine name (default: by model kind)")
    p.add_argument("--model-id", default=None, help="model id reported to clients")
    p.add_argument("--ctx-size", type=int, default=None, help="context tokens per sequence")
    p.add_argument("--parallel", type=int, default=None, help="sequences decoded together")
    p.add_argument("--threads", type=int, default=None, help="CPU threads")
    p.add_argument("--batch-size", type=int, default=None, help="tokens per decode step")
    p.add_argument("--seed", type=int, default=None, help="default sampling seed")
    p.add_argument(
        "--mask-threads",
        type=int,
        default=None,
        help="llama.cpp: threads filling grammar masks (default: --threads; 0: on the "
        "scheduler thread)",
    )
    p.add_argument(
        "--copy-bias",
        type=float,
        default=None,
        help="llama.cpp: logit bonus for JSON string values that repeat the user's message "
        "(default 3.0; 0: off)",
    )
    vllm = p.add_argument_group(
        "vLLM engine (--engine vllm; --ctx-size and --parallel set its "
        "max_model_len and max_num_seqs)"
    )
    vllm.add_argument(
        "--gpu-memory-utilization",
        type=float,
        default=None,
        help="share of GPU memory vLLM may take (default: 0.9)",
    )
    vllm.add_argument(
        "--tensor-parallel-size",
        type=int,
        default=None,
        help="GPUs the model is sharded over (default: 1)",
    )
    vllm.add_argument("--dtype", default=None, help="auto, bfloat16, float16 or float32")
    vllm.add_argument(
        "--enforce-eager",
        action="store_true",
        default=None,
        help="no CUDA graphs / torch.compile: faster start, slower decode",
    )
    vllm.add_argument(
        "--cpu-kv-cache-gib",
        type=int,
        default=None,
        help="KV cache size on the CPU build of vLLM (default: 1)",
    )
    p.add_argument(
        "--max-waiting",
        type=int,
        default=None,
        help="requests that may wait for a slot before 429 (default: 64)",
    )
    p.add_argument("--max-body-bytes", type=int, default=None, help="largest request body")
    p.add_argument(
        "--request-timeout",
        type=float,
        default=None,
        help="deadline of one generation request in seconds, queue wait included (default: 600)",
    )
    p.add_argument(
        "--write-timeout",
        type=float,
        default=None,
        help="drop a stream whose client takes no write for this many seconds (default: 30)",
    )
    p.add_argument("--max-n", type=int, default=None, help="most choices per request (default: 8)")
    p.add_argument(
        "--served-model-name",
        action="append",
        default=None,
        help="extra model id clients may use (repeatable)",
    )
    p.set_defaults(func=run)


_VLLM_FLAGS = (
    "gpu_memory_utilization", "tensor_parallel_size", "dtype", "enforce_eager", "cpu_kv_cache_gib"
)  # fmt: skip


def engine_options(args: argparse.Namespace) -> dict[str, Any]:
    """Engine settings the user set on the command line, under the chosen engine's names."""
    if getattr(args, "engine", None) == "vllm":
        for flag in ("threads", "batch_size", "copy_bias", "mask_threads"):
            if getattr(args, flag, None) is not None:
                raise SystemExit(f"--{flag.replace('_', '-')} does not apply to --engine vllm")
        names = {"model_id": "model_id", "max_model_len": "ctx_size", "max_num_seqs": "parallel",
                 "seed": "seed", **{flag: flag for flag in _VLLM_FLAGS}}  # fmt: skip
    else:
        names = {
            "model_id": "model_id",
            "ctx_size": "ctx_size",
            "parallel": "parallel",
            "threads": "threads",
            "batch_size": "batch_size",
            "seed": "seed",
            "copy_bias": "copy_bias",
            "mask_threads": "mask_threads",
        }
    return {
        key: getattr(args, attr)
        for key, attr in names.items()
        if getattr(args, attr, None) is not None
    }


def run(args: argparse.Namespace) -> int:
    if args.ray:
        return run_ray(args.ray)
    import uvicorn

    from inferstack.engines.registry import create_engine
    from inferstack.serving.app import build_app
    from inferstack.serving.settings import ServerSettings

    settings = ServerSettings.from_sources(
        host=args.host,
        port=args.port,
        max_waiting=args.max_waiting,
        max_body_bytes=args.max_body_bytes,
        served_model_names=args.served_model_name,
        request_timeout_seconds=args.request_timeout,
        write_timeout_seconds=args.write_timeout,
        max_n=args.max_n,
    )
    engine = create_engine(args.model, engine=args.engine, **engine_options(args))
    app = build_app(settings, engine)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=args.log_level.lower(),
        timeout_graceful_shutdown=5,
    )
    return 0


def run_ray(config: str) -> int:
    """Start a local Ray on 127.0.0.1, deploy the config's applications, serve until stopped."""
    import os
    import signal
    import threading

    from inferstack.serving.ray_loopback import LOOPBACK_ENV

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    for name, value in LOOPBACK_ENV.items():  # before Ray is imported; its processes inherit it
        os.environ.setdefault(name, value)
    import ray
    from ray import serve

    from inferstack.serving.ray_app import deploy_config

    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, _node_ip_address="127.0.0.1")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        names = deploy_config(config)
        print(f"serving {', '.join(names)} on Ray Serve; Ctrl-C to stop", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        serve.shutdown()
        ray.shutdown()
    return 0
