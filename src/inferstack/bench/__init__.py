"""``inferstack bench``: a load generator for OpenAI-compatible servers.

It answers how many output tokens per second a deployment serves, at what latency, for how
many dollars: a closed-loop concurrency ramp (or open-loop Poisson arrivals), per-level
TTFT / inter-token / end-to-end percentiles, aggregate throughput, errors by kind, CPU use
of a local target, cost per 1M output tokens, JSON + Markdown + PNG output, and compare mode.

It speaks only HTTP (httpx): it never imports the engines, models or serving packages.
"""

from inferstack.bench.client import Target
from inferstack.bench.ramp import Bench, stop_reason
from inferstack.bench.records import ErrorKind, RequestRecord, TokenSource
from inferstack.bench.results import BenchResult
from inferstack.bench.settings import LoopMode, ReferenceEnv, RunConfig
from inferstack.bench.stats import LevelStats, summarize
from inferstack.bench.workload import Endpoint, Workload

__all__ = [
    "Bench",
    "BenchResult",
    "Endpoint",
    "ErrorKind",
    "LevelStats",
    "LoopMode",
    "ReferenceEnv",
    "RequestRecord",
    "RunConfig",
    "Target",
    "TokenSource",
    "Workload",
    "stop_reason",
    "summarize",
]
