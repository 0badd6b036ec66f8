"""The options of ``inferstack bench`` and its ``peer`` form (the parser itself is built in
:mod:`inferstack.cli.bench`)."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["DEFAULT_REQUESTS", "PEER_CHOICES", "peer_parser", "run_options"]

DEFAULT_REQUESTS = 64
PEER_CHOICES = ("inferstack", "reference", "llama-server", "litellm", "gateway", "echo")


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


def run_options(p: argparse.ArgumentParser, suppress: bool) -> None:
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
        choices=PEER_CHOICES,
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


def peer_parser(sub: Any) -> None:
    """Register ``inferstack bench peer`` on the ``bench`` subparsers ``sub``."""
    p = sub.add_parser(
        "peer",
        help="start a comparison peer on 127.0.0.1 (foreground, Ctrl-C stops it)",
        description="Start a benchmark peer: llama.cpp's llama-server (built once from the "
        "llama-cpp-python sdist), the reference design (llama-cpp-python's Llama behind one "
        "FastAPI route, one request at a time), LiteLLM's proxy (own venv) or inferstack's "
        "gateway (fresh state, a virtual key) in front of --upstream, or echo, a fast fake "
        "OpenAI upstream with no model (--extra-args '--tokens N', default 16).",
    )
    p.add_argument("kind", choices=tuple(k for k in PEER_CHOICES if k != "inferstack"))
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
