"""Driving one engine generation for a route: admission, first-delta peek, deadline, metrics,
cancellation.

Every :class:`Run` holds one admission slot from :meth:`GenerationService.start` until
:meth:`Run.close`, which runs exactly once in every path: the answer finished, the client left
(while queued, before the first token, mid-stream), the deadline passed, the writer stalled.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from opentelemetry.trace import Span

from inferstack.engines.base import Delta, Engine, FinishReason, GenerateRequest, Timings, Usage
from inferstack.errors import (
    ClientClosedError,
    EngineError,
    InvalidRequestError,
    NotFoundError,
    RequestTimeoutError,
)
from inferstack.serving.admission import Admission
from inferstack.serving.http import wait_disconnect
from inferstack.serving.metrics import ServerMetrics
from inferstack.serving.settings import ServerSettings
from inferstack.serving.sse import EventStream
from inferstack.serving.tracing import GenerationTracer, operation_of
from inferstack.telemetry.tracing import Telemetry

__all__ = ["Completed", "GenerationService", "Run"]


@dataclass
class Completed:
    """A whole, non-streamed generation."""

    text: str
    finish_reason: FinishReason
    usage: Usage
    deltas: list[Delta] = field(default_factory=list)


async def _next(stream: AsyncIterator[Delta]) -> Delta | None:
    try:
        return await anext(stream)
    except StopAsyncIteration:
        return None


@dataclass(eq=False)
class Run:
    """A started generation. Its first delta may still be on its way (the request is queued).

    Iterate :meth:`deltas` at most once; it closes the run when it ends. :meth:`close` releases
    the admission slot, records metrics and cancels the engine's sequence if it still runs.
    """

    first: asyncio.Task[Delta | None]
    rest: AsyncIterator[Delta]
    service: GenerationService
    endpoint: str
    started: float
    deadline: float | None
    """``loop.time()`` past which the request ends with a 408; ``None``: no deadline."""
    first_at: float | None = None
    usage: Usage | None = None
    closed: bool = False
    request_id: str = ""
    model: str | None = None
    span: Span | None = None
    finish_reason: FinishReason | None = None
    timings: Timings | None = None
    error: BaseException | None = None

    async def wait_first(self, request: Request | None, patience: float | None) -> None:
        """Wait until the first delta is here, at most ``patience`` seconds (``None``: no
        limit). Raises the engine's error (a 4xx before any byte), :class:`ClientClosedError`
        when the client leaves meanwhile, :class:`RequestTimeoutError` past the deadline."""
        watcher = asyncio.ensure_future(wait_disconnect(request)) if request else None
        waits: set[asyncio.Future[Any]] = {self.first}
        if watcher is not None:
            waits.add(watcher)
        loop = asyncio.get_running_loop()
        limits = [patience] if patience is not None else []
        if self.deadline is not None:
            limits.append(max(0.0, self.deadline - loop.time()))
        try:
            await asyncio.wait(
                waits, timeout=min(limits, default=None), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            if watcher is not None:
                watcher.cancel()
        if self.first.done():
            self.first.result()  # the engine's error, if any, before the first byte
        elif watcher is not None and watcher.done() and not watcher.cancelled():
            raise ClientClosedError("the client disconnected while the request waited")
        elif self.deadline is not None and loop.time() >= self.deadline:
            raise self._deadline_error()

    def _deadline_error(self) -> RequestTimeoutError:
        return RequestTimeoutError(
            f"the request did not finish within the server's deadline "
            f"({self.service.timeout:g} s); retry with a smaller max_tokens or later"
        )

    async def deltas(self) -> AsyncIterator[Delta]:
        try:
            delta = await self._within_deadline(self.first)
            while delta is not None:
                if delta.usage is not None:
                    self.usage = delta.usage
                if delta.finish_reason is not None:
                    self.finish_reason, self.timings = delta.finish_reason, delta.timings
                yield delta
                if delta.finish_reason is not None:
                    return
                delta = await self._within_deadline(_next(self.rest))
            raise EngineError("the generation ended without a finish reason")
        except BaseException as exc:  # noted for the trace, then re-raised
            if self.finish_reason is None:  # a consumer closing a finished run is no error
                self.error = exc
            raise
        finally:
            await self.close()

    async def _within_deadline(self, step: Awaitable[Delta | None]) -> Delta | None:
        # NOTE: one timeout per await, never one across the generator's yields: each event
        # of a stream may be pulled by another task (see serving.sse), and a timeout belongs
        # to the task that entered it.
        try:
            async with asyncio.timeout_at(self.deadline):
                return await step
        except TimeoutError:
            raise self._deadline_error() from None

    async def collect(self, request: Request | None = None) -> Completed:
        """Gather the whole generation; stop early if the client disconnects."""

        async def gather() -> Completed:
            parts: list[Delta] = []
            async for delta in self.deltas():
                parts.append(delta)
                if delta.finish_reason is not None:
                    assert delta.usage is not None
                    text = "".join(d.text for d in parts)
                    return Completed(text, delta.finish_reason, delta.usage, parts)
            raise EngineError("the generation ended without a finish reason")

        if request is None:
            return await gather()
        work = asyncio.ensure_future(gather())
        watcher = asyncio.ensure_future(wait_disconnect(request))
        try:
            await asyncio.wait({work, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watcher.cancel()
            if not work.done():
                work.cancel()  # the client left (or we were cancelled): free the sequence
                with contextlib.suppress(asyncio.CancelledError):
                    await work
                await self.close()
        if work.cancelled():
            raise ClientClosedError("the client disconnected before the answer was ready")
        return work.result()

    async def close(self) -> None:
        """Release everything the run holds; safe to call any number of times."""
        if self.closed:
            return
        self.closed = True
        if not self.first.done():
            self.first.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.first
        elif not self.first.cancelled():
            self.first.exception()  # retrieved: no "exception never retrieved" warning
        with contextlib.suppress(RuntimeError):
            await self.rest.aclose()  # type: ignore[attr-defined]
        self.service.finish(self)


class GenerationService:
    """Admits, starts and accounts generations on one engine."""

    def __init__(
        self,
        engine: Engine,
        metrics: ServerMetrics,
        admission: Admission,
        settings: ServerSettings,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.engine = engine
        self.metrics = metrics
        self.admission = admission
        self.settings = settings
        self.aliases = settings.served_model_names
        self.tracer = GenerationTracer(telemetry or Telemetry.disabled())

    @property
    def timeout(self) -> float | None:
        """Per-request deadline in seconds (queue wait included); ``None``: none."""
        return self.settings.request_timeout_seconds

    @property
    def model_ids(self) -> list[str]:
        """The engine's id (known once it has loaded) and the configured aliases."""
        return [self.engine.info.id, *(a for a in self.aliases if a != self.engine.info.id)]

    def check_model(self, model: str) -> str:
        if model not in self.model_ids:
            raise NotFoundError(
                f"The model {model!r} does not exist; this server serves "
                f"{', '.join(self.model_ids)}.",
                param="model",
                code="model_not_found",
            )
        return model

    def check_n(self, n: int | None) -> int:
        """The number of choices asked for, within the server's ``max_n``."""
        n = 1 if n is None else n
        if n > self.settings.max_n:
            raise InvalidRequestError(
                f"n is {n}; this server generates at most {self.settings.max_n} choices",
                param="n",
            )
        return n

    async def start(
        self,
        request: GenerateRequest,
        endpoint: str,
        http: Request | None = None,
        *,
        n: int = 1,
        stream: bool = False,
        model: str | None = None,
    ) -> list[Run]:
        """Admit ``request`` (``n`` choices of it) and wait for the first choice's first delta,
        so every error before the first byte still becomes a JSON error with its real status.
        A streaming request waits at most ``keepalive_seconds``; then the stream starts and
        sends keep-alives until the first delta.

        While it waits, a client that leaves (``http`` disconnects) ends the request: a queued
        one leaves the queue before it is ever admitted. Choices after the first start once
        the first has prefilled the prompt, so they reuse its KV instead of prefilling again.
        """
        self.admission.acquire(n)
        first, *others = _choices(request, n)
        runs = [self._launch(first, endpoint, model, stream)]
        runs += [
            self._launch(choice, endpoint, model, stream, leader=runs[0].first) for choice in others
        ]
        try:
            await runs[0].wait_first(http, self.settings.keepalive_seconds if stream else None)
            if runs[0].first.done() and runs[0].first.result() is None:
                raise EngineError("the engine produced no output")
        except BaseException as exc:
            for run in runs:
                run.error = exc
                await run.close()
            raise
        return runs

    def _launch(
        self,
        request: GenerateRequest,
        endpoint: str,
        model: str | None,
        stream: bool,
        leader: asyncio.Task[Delta | None] | None = None,
    ) -> Run:
        loop = asyncio.get_running_loop()
        deltas = self.engine.generate(request)
        first = _next(deltas) if leader is None else _after(leader, deltas)
        run = Run(
            first=asyncio.ensure_future(first),
            rest=deltas,
            service=self,
            endpoint=endpoint,
            started=time.monotonic(),
            deadline=None if self.timeout is None else loop.time() + self.timeout,
            request_id=request.request_id,
            model=model,
            span=self.tracer.start(request, endpoint, model, stream),
        )
        run.first.add_done_callback(lambda _: self._first_arrived(run))
        return run

    def _first_arrived(self, run: Run) -> None:
        run.first_at = time.monotonic()
        if not run.first.cancelled() and run.first.exception() is None:
            self.tracer.first_token(run.span, run.first_at - run.started)

    def event_stream(self, events: AsyncIterator[str], runs: list[Run]) -> EventStream:
        """The SSE response for ``events``; it closes ``runs`` however the stream ends."""

        async def close() -> None:
            for run in runs:
                await run.close()

        return EventStream(
            events,
            on_close=close,
            write_timeout=self.settings.write_timeout_seconds,
            keepalive=self.settings.keepalive_seconds,
        )

    async def collect(self, runs: list[Run], http: Request | None) -> list[Completed]:
        """Every choice, whole; all runs are closed however this ends."""
        try:
            return list(await asyncio.gather(*(run.collect(http) for run in runs)))
        finally:
            for run in runs:
                await run.close()

    def finish(self, run: Run) -> None:
        self.admission.release()
        now = time.monotonic()
        self.metrics.e2e.labels(self.metrics.model, run.endpoint).observe(now - run.started)
        t = run.timings
        if run.usage is not None:
            ttft = None if run.first_at is None else run.first_at - run.started
            self.metrics.observe_generation(
                ttft=ttft,
                duration=now - run.started,
                prompt=run.usage.prompt_tokens,
                completion=run.usage.completion_tokens,
                operation=operation_of(run.endpoint),
                queue_wait=(t.admitted_ns - t.queued_ns) / 1e9 if t and t.admitted_ns else None,
            )
        elif run.error is not None:
            self.metrics.observe_failure(
                duration=now - run.started,
                operation=operation_of(run.endpoint),
                error_type=type(run.error).__name__,
            )
        self.tracer.finish(
            run.span,
            response_id=run.request_id,
            model=run.model,
            usage=run.usage,
            finish_reasons=[run.finish_reason] if run.finish_reason else [],
            timings=t,
            error=run.error,
        )


def _choices(request: GenerateRequest, n: int) -> list[GenerateRequest]:
    """``n`` copies of ``request``; a seeded one gets seeds ``seed, seed+1, ...`` so the
    choices differ yet stay reproducible."""
    if n == 1:
        return [request]
    out = []
    for i in range(n):
        params = dataclasses.replace(request.params)
        if params.seed is not None:
            params.seed = params.seed + i
        out.append(
            dataclasses.replace(request, request_id=f"{request.request_id}-{i}", params=params)
        )
    return out


async def _after(leader: asyncio.Task[Delta | None], stream: AsyncIterator[Delta]) -> Delta | None:
    """A later choice's first delta: asked for once the first choice has its own (its prompt
    is in the KV cache then), never cancelling the first choice's wait."""
    await asyncio.wait({leader})
    return await _next(stream)
