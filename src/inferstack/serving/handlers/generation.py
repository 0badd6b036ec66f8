"""Driving one engine generation for a route: admission, first-delta peek, metrics, cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fastapi import Request

from inferstack.engines.base import Delta, Engine, FinishReason, GenerateRequest, Usage
from inferstack.errors import EngineError, NotFoundError
from inferstack.serving.admission import Admission
from inferstack.serving.http import wait_disconnect
from inferstack.serving.metrics import ServerMetrics

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

    async def deltas(self) -> AsyncIterator[Delta]:
        try:
            delta = self.first
            while True:
                if delta.usage is not None:
                    self.usage = delta.usage
                yield delta
                if delta.finish_reason is not None:
                    return
                delta = await anext(self.rest)
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
        self, engine: Engine, metrics: ServerMetrics, admission: Admission, aliases: list[str]
    ) -> None:
        self.engine = engine
        self.metrics = metrics
        self.admission = admission
        self.aliases = aliases

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

    async def start(self, request: GenerateRequest, endpoint: str) -> Run:
        """Admit ``request`` and wait for its first delta, so every error before the first
        byte can still become a JSON error response with its real status."""
        self.admission.acquire()
        started = time.monotonic()
        stream = self.engine.generate(request)
        try:
            first = await anext(stream)
        except StopAsyncIteration:
            self.admission.release()
            raise EngineError("the engine produced no output") from None
        except BaseException:
            self.admission.release()
            raise
        return Run(first=first, rest=stream, service=self, endpoint=endpoint, started=started)

    def finish(self, run: Run) -> None:
        self.admission.release()
        now = time.monotonic()
        self.metrics.e2e.labels(self.metrics.model, run.endpoint).observe(now - run.started)
        if run.usage is not None:
            self.metrics.observe_generation(
                ttft=run.first_at - run.started,
                duration=now - run.started,
                prompt=run.usage.prompt_tokens,
                completion=run.usage.completion_tokens,
            )
