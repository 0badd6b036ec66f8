"""Running one level against one target: closed-loop streams or open-loop Poisson arrivals.

A level first sends its warm-up requests (recorded, marked ``warmup``, excluded from the
statistics), then its measured requests until the level's request count or duration is
reached, always within the run's :class:`Budget`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from inferstack.bench.client import Target, send
from inferstack.bench.records import RequestRecord
from inferstack.bench.settings import LoopMode, RunConfig
from inferstack.bench.workload import Workload

__all__ = ["Budget", "LevelContext", "poisson_arrivals", "run_level"]


class Budget:
    """The run's hard caps: requests left and a deadline (``time.perf_counter`` seconds)."""

    def __init__(self, max_requests: int, max_seconds: float) -> None:
        self.requests_left = max_requests
        self.deadline = time.perf_counter() + max_seconds

    def take(self) -> bool:
        """Reserve one request; False once the request cap is reached."""
        if self.requests_left <= 0:
            return False
        self.requests_left -= 1
        return True

    @property
    def seconds_left(self) -> float:
        return self.deadline - time.perf_counter()


@dataclass
class LevelContext:
    """What a level needs besides its own number."""

    client: httpx.AsyncClient
    target: Target
    workload: Workload
    config: RunConfig
    budget: Budget
    next_prompt: Callable[[], int]
    on_record: Callable[[RequestRecord], None] = lambda record: None
    on_measure_start: Callable[[], None] = lambda: None
    """Called when warm-up is over and the measured requests begin (CPU sampling starts)."""


def poisson_arrivals(
    rate: float, count: int | None, duration: float | None, seed: int
) -> list[float]:
    """Offsets (seconds from the level's start) of Poisson arrivals at ``rate`` per second.

    Stops after ``count`` arrivals or before ``duration`` seconds, whichever comes first.
    """
    if count is None and duration is None:
        raise ValueError("need a count or a duration")
    rng = random.Random(seed)
    offsets: list[float] = []
    t = 0.0
    while count is None or len(offsets) < count:
        t += rng.expovariate(rate)
        if duration is not None and t >= duration:
            break
        offsets.append(t)
    return offsets


def _new_record(records: list[RequestRecord], start: float, warmup: bool) -> RequestRecord:
    record = RequestRecord(start=start, warmup=warmup)
    records.append(record)
    return record


async def _send(ctx: LevelContext, record: RequestRecord) -> None:
    body = ctx.workload.body(ctx.next_prompt(), ctx.target.model) | ctx.target.extra_body
    record.sent = time.perf_counter()
    await send(ctx.client, ctx.target, ctx.workload.endpoint.path, body, record)
    ctx.on_record(record)


async def _one(ctx: LevelContext, records: list[RequestRecord], warmup: bool) -> None:
    await _send(ctx, _new_record(records, time.perf_counter(), warmup))


async def _closed_phase(
    ctx: LevelContext,
    streams: int,
    count: int | None,
    duration: float | None,
    records: list[RequestRecord],
    warmup: bool,
) -> None:
    issued = 0
    stop_at = time.perf_counter() + duration if duration is not None else None

    async def stream() -> None:
        nonlocal issued
        while (count is None or issued < count) and (
            stop_at is None or time.perf_counter() < stop_at
        ):
            if not ctx.budget.take():
                return
            issued += 1
            await _one(ctx, records, warmup)

    await asyncio.gather(*(stream() for _ in range(streams)))


async def _open_phase(
    ctx: LevelContext, rate: float, records: list[RequestRecord], seed: int
) -> None:
    cfg = ctx.config
    offsets = poisson_arrivals(rate, cfg.requests_per_level, cfg.duration_s, seed)
    gate = asyncio.Semaphore(cfg.max_in_flight)
    tasks: list[asyncio.Task[None]] = []

    async def bounded(scheduled: float) -> None:
        # NOTE: the record starts at the arrival's scheduled time, before the wait for the
        # client's own in-flight cap: time spent queued in the client counts in TTFT and e2e
        # (no coordinated omission); ``sent`` says when the request really left.
        record = _new_record(records, scheduled, warmup=False)
        async with gate:
            await _send(ctx, record)

    t0 = time.perf_counter()
    try:
        for offset in offsets:
            delay = t0 + offset - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if not ctx.budget.take():
                break
            tasks.append(asyncio.create_task(bounded(t0 + offset)))
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        # Let cancelled requests mark their records before the caller summarizes them.
        await asyncio.gather(*tasks, return_exceptions=True)


async def run_level(ctx: LevelContext, level: float, records: list[RequestRecord]) -> None:
    """Run ``level`` (streams or requests/s), appending every request's record to ``records``.

    ``records`` is filled as requests start, so a caller that cancels this coroutine (the run's
    time cap) still has every record, the interrupted ones marked ``cancelled``.
    """
    cfg = ctx.config
    warmup = cfg.warmup_for(level)
    if cfg.mode is LoopMode.CLOSED:
        streams = int(level)
        if warmup:
            await _closed_phase(ctx, min(streams, warmup), warmup, None, records, warmup=True)
        ctx.on_measure_start()
        await _closed_phase(
            ctx, streams, cfg.requests_per_level, cfg.duration_s, records, warmup=False
        )
    else:
        if warmup:
            await _closed_phase(ctx, min(4, warmup), warmup, None, records, warmup=True)
        ctx.on_measure_start()
        await _open_phase(ctx, level, records, seed=cfg.seed + int(level * 1000))
