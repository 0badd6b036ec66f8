"""Driving one engine generation for a route: admission, first-delta peek, metrics, cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fastapi import Request
from opentelemetry.trace import Span

from inferstack.engines.base import Delta, Engine, FinishReason, GenerateRequest, Timings, Usage
from inferstack.errors import EngineError, NotFoundError
from inferstack.serving.admission import Admission
from inferstack.serving.http import wait_disconnect
from inferstack.serving.metrics import ServerMetrics
from inferstack.serving.tracing import GenerationTracer, operation_of
from inferstack.telemetry.tracing import Telemetry

__all__ = ["Completed", "GenerationService", "Run"]


@dataclass
class Completed:
    """A whole, non-streamed generation."""

    text: str
    finish_reason: FinishReason
    usage: Usage


@dataclass
class Run:
    """A started generation whose first delta is already in hand.

    Iterate :meth:`deltas` exactly once; it releases the admission slot, records metrics and
    cancels the engine's sequence if the consumer stops early.
    """

    first: Delta
    rest: AsyncIterator[Delta]
    service: GenerationService
    endpoint: str
    started: float
    first_at: float = field(default_factory=time.monotonic)
    usage: Usage | None = None
    request_id: str = ""
    model: str | None = None
    span: Span | None = None
    finish_reason: FinishReason | None = None
    timings: Timings | None = None
    error: BaseException | None = None

    async def deltas(self) -> AsyncIterator[Delta]:
        try:
            delta = self.first
            while True:
                if delta.usage is not None:
                    self.usage = delta.usage
                if delta.finish_reason is not None:
                    self.finish_reason, self.timings = delta.finish_reason, delta.timings
                yield delta
                if delta.finish_reason is not None:
                    return
                delta = await anext(self.rest)
        except BaseException as exc:  # noted for the trace, then re-raised
            self.error = exc
            raise
        finally:
            with contextlib.suppress(RuntimeError):
                await self.rest.aclose()  # type: ignore[attr-defined]
            self.service.finish(self)

    async def collect(self, request: Request | None = None) -> Completed:
        """Gather the whole generation; stop early if the client disconnects."""

        async def gather() -> Completed:
            parts: list[str] = []
            async for delta in self.deltas():
                parts.append(delta.text)
                if delta.finish_reason is not None:
                    assert delta.usage is not None
                    return Completed("".join(parts), delta.finish_reason, delta.usage)
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
                work.cancel()  # the client left: the engine frees the sequence
        return await work


class GenerationService:
    """Admits, starts and accounts generations on one engine."""

    def __init__(
        self,
        engine: Engine,
        metrics: ServerMetrics,
        admission: Admission,
        aliases: list[str],
        telemetry: Telemetry | None = None,
    ) -> None:
        self.engine = engine
        self.metrics = metrics
        self.admission = admission
        self.aliases = aliases
        self.tracer = GenerationTracer(telemetry or Telemetry.disabled())

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

    async def start(
        self,
        request: GenerateRequest,
        endpoint: str,
        *,
        model: str | None = None,
        stream: bool = False,
    ) -> Run:
        """Admit ``request`` and wait for its first delta, so every error before the first
        byte can still become a JSON error response with its real status."""
        self.admission.acquire()
        started = time.monotonic()
        span = self.tracer.start(request, endpoint, model, stream)
        deltas = self.engine.generate(request)
        try:
            first = await anext(deltas)
        except StopAsyncIteration:
            self.admission.release()
            error = EngineError("the engine produced no output")
            self.tracer.fail(span, error)
            raise error from None
        except BaseException as exc:
            self.admission.release()
            self.tracer.fail(span, exc)
            raise
        run = Run(first=first, rest=deltas, service=self, endpoint=endpoint, started=started)
        run.request_id, run.model, run.span = request.request_id, model, span
        self.tracer.first_token(span, run.first_at - started)
        return run

    def finish(self, run: Run) -> None:
        self.admission.release()
        now = time.monotonic()
        self.metrics.e2e.labels(self.metrics.model, run.endpoint).observe(now - run.started)
        t = run.timings
        if run.usage is not None:
            self.metrics.observe_generation(
                ttft=run.first_at - run.started,
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
