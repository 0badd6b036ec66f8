"""The ramp: levels in order, targets interleaved level by level, stop rules per target."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
import os
import platform
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Protocol

from inferstack.bench.client import Target, discover_model, make_client
from inferstack.bench.cpu import CpuSampler
from inferstack.bench.levels import Budget, LevelContext, run_level
from inferstack.bench.records import ErrorKind, RequestRecord
from inferstack.bench.results import BenchResult, LevelResult, TargetResult, ratios_against_first
from inferstack.bench.settings import LoopMode, RunConfig
from inferstack.bench.stats import LevelStats, summarize
from inferstack.bench.workload import Workload

__all__ = ["Bench", "Progress", "interleave", "stop_reason"]

log = logging.getLogger(__name__)

LevelRunner = Callable[[LevelContext, float, list[RequestRecord]], Awaitable[None]]


class Progress(Protocol):
    """Receives live events; :class:`inferstack.bench.progress.LiveProgress` draws them."""

    def level_started(self, target: str, level: float, planned: int | None) -> None: ...
    def request_done(self, record: RequestRecord) -> None: ...
    def level_finished(self, target: str, level: float, stats: LevelStats) -> None: ...
    def note(self, message: str) -> None: ...


def stop_reason(history: Sequence[LevelStats], config: RunConfig) -> str | None:
    """Why the ramp of one target must end after its latest level, or None to go on.

    Checked in order: error rate, each latency SLO, then throughput gain over the best
    earlier level (gain below ``min_gain``; needs at least two levels).
    """
    if not history:
        return None
    latest = history[-1]
    if latest.error_rate > config.max_error_rate:
        return f"error rate {latest.error_rate:.0%} > {config.max_error_rate:.0%}"
    for name, limit in config.slo_ms.items():
        value = latest.metric(name)
        if value is not None and value > limit:
            return f"SLO broken: {name} {value:.0f} ms > {limit:g} ms"
    if config.min_gain > 0 and len(history) >= 2:
        best = max(s.output_tok_per_s for s in history[:-1])
        if best > 0 and latest.output_tok_per_s < best * (1 + config.min_gain):
            gain = latest.output_tok_per_s / best - 1
            return f"throughput gain {gain:+.1%} < {config.min_gain:.0%}"
    return None


def interleave(
    levels: Iterable[float], targets: Sequence[str], stopped: Callable[[str], bool]
) -> Iterator[tuple[float, str]]:
    """(level, target) pairs level by level (A B A B …), skipping targets that have stopped.

    ``stopped`` is asked lazily, just before each pair, so a stop takes effect at once.
    """
    for level, name in itertools.product(levels, targets):
        if not stopped(name):
            yield level, name


class Bench:
    """One run: every target through the levels, interleaved, within the run's caps."""

    def __init__(
        self,
        targets: Sequence[Target],
        workload: Workload,
        config: RunConfig,
        progress: Progress | None = None,
        level_runner: LevelRunner = run_level,
    ) -> None:
        names = [t.name for t in targets]
        if not targets or len(set(names)) != len(names):
            raise ValueError("need at least one target, with distinct names")
        self.targets = [t.model_copy() for t in targets]
        self.workload = workload
        self.config = config
        self.progress = progress
        self._run_level = level_runner
        self._prompt_counter = itertools.count()

    def _planned(self, level: float) -> int | None:
        return self.config.requests_per_level

    async def _one_level(
        self, target: Target, level: float, budget: Budget, client: object
    ) -> tuple[list[RequestRecord], float | None, bool]:
        records: list[RequestRecord] = []
        sampler = CpuSampler(target.pid) if target.pid else None
        ctx = LevelContext(
            client=client,  # type: ignore[arg-type]
            target=target,
            workload=self.workload,
            config=self.config,
            budget=budget,
            next_prompt=lambda: next(self._prompt_counter),
            on_record=self.progress.request_done if self.progress else (lambda r: None),
            on_measure_start=sampler.start if sampler else (lambda: None),
        )
        timed_out = False
        try:
            await asyncio.wait_for(
                self._run_level(ctx, level, records), timeout=max(budget.seconds_left, 0.001)
            )
        except TimeoutError:
            timed_out = True
            now = time.perf_counter()
            for record in records:
                if record.end == 0.0:  # interrupted before it could mark itself
                    record.end, record.error = now, ErrorKind.CANCELLED
        cores = sampler.stop() if sampler else None
        return records, cores, timed_out

    async def run(self) -> BenchResult:
        """Run every level for every target and return the result."""
        cfg = self.config
        budget = Budget(cfg.max_total_requests, cfg.max_run_s)
        results = {
            t.name: TargetResult(name=t.name, base_url=t.base_url, pid=t.pid) for t in self.targets
        }
        by_name = {t.name: t for t in self.targets}
        result = BenchResult(
            started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            config=cfg,
            workload=self.workload.model_dump(exclude={"prompts"})
            | {"prompt_count": len(self.workload.prompts)},
            machine={"cpu_count": os.cpu_count(), "platform": platform.platform()},
            targets=list(results.values()),
        )
        concurrency = int(max(cfg.levels)) if cfg.mode is LoopMode.CLOSED else cfg.max_in_flight
        async with make_client(max(concurrency, 4), cfg.request_timeout_s) as client:
            for target in self.targets:
                if target.model is None and self.workload.model is None:
                    target.model = await discover_model(client, target)
                results[target.name].model = self.workload.model or target.model or "default"
            for level, name in interleave(
                cfg.levels, list(by_name), lambda n: results[n].stopped is not None
            ):
                if budget.seconds_left <= 0 or budget.requests_left <= 0:
                    result.run_stopped = "time cap" if budget.seconds_left <= 0 else "request cap"
                    break
                if self.progress:
                    self.progress.level_started(name, level, self._planned(level))
                records, cores, timed_out = await self._one_level(
                    by_name[name], level, budget, client
                )
                stats = summarize(records, cfg.price_per_hour)
                if cores is not None:
                    stats.cpu_cores = cores
                    stats.cpu_percent = 100.0 * cores / (os.cpu_count() or 1)
                results[name].levels.append(LevelResult(level=level, stats=stats))
                if self.progress:
                    self.progress.level_finished(name, level, stats)
                if timed_out:
                    result.run_stopped = "time cap"
                    break
                history = [lr.stats for lr in results[name].levels]
                if (reason := stop_reason(history, cfg)) is not None:
                    results[name].stopped = reason
                    if self.progress:
                        self.progress.note(f"{name}: ramp ends after {level:g}: {reason}")
            else:
                if budget.requests_left <= 0:
                    result.run_stopped = "request cap"
        result.finished_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        result.ratios = ratios_against_first(result.targets)
        return result
