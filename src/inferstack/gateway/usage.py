"""Usage and cost: price one request, and record every request in the background."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from inferstack.gateway.db import Database, SpendLog, VirtualKey
from inferstack.gateway.db.tables import utcnow
from inferstack.gateway.settings import DeploymentConfig

__all__ = ["Usage", "UsageEntry", "UsageRecorder", "request_cost"]

logger = logging.getLogger(__name__)


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    """Prompt tokens the upstream served from its prefix cache (``prompt_tokens_details``)."""

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @classmethod
    def from_openai(cls, usage: object) -> Usage:
        """Read an OpenAI ``usage`` object; anything malformed counts as zero."""
        if not isinstance(usage, dict):
            return cls()
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        details = usage.get("prompt_tokens_details")
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        return cls(
            prompt_tokens=prompt if isinstance(prompt, int) else 0,
            completion_tokens=completion if isinstance(completion, int) else 0,
            cached_tokens=cached if isinstance(cached, int) else 0,
        )


def request_cost(price: DeploymentConfig, usage: Usage, seconds: float) -> float:
    """USD for one request: per-token prices plus, for self-hosted models, price x seconds."""
    return (
        usage.prompt_tokens * price.input_cost_per_million / 1_000_000
        + usage.completion_tokens * price.output_cost_per_million / 1_000_000
        + max(seconds, 0.0) * price.cost_per_second
    )


@dataclass
class UsageEntry:
    request_id: str
    key_id: str | None
    endpoint: str
    model_group: str
    deployment: str | None
    usage: Usage
    latency_s: float
    ttft_s: float | None
    cost: float
    status_code: int
    stream: bool = False
    cache_hit: bool = False
    lease_id: str | None = None  # the budget lease this cost holds until it is written
    created_at: datetime = field(default_factory=utcnow)


class UsageRecorder:
    """Writes spend logs and key spend in batches, off the request path."""

    def __init__(
        self,
        db: Database,
        *,
        on_written: Callable[[dict[str, float]], None] | None = None,
        on_failed: Callable[[int], None] | None = None,
        max_batch: int = 500,
    ) -> None:
        self._db = db
        self._on_written = on_written
        self._on_failed = on_failed
        self._max_batch = max_batch
        self._queue: asyncio.Queue[UsageEntry] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        # Called with each batch once it is committed (the budget leases it held shrink).
        self.after_write: Callable[[list[UsageEntry]], Awaitable[None]] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gateway-usage-recorder")

    def record(self, entry: UsageEntry) -> None:
        self._queue.put_nowait(entry)

    @property
    def pending(self) -> int:
        """Entries recorded but not yet written."""
        return self._queue.qsize()

    async def flush(self) -> None:
        """Wait until everything recorded so far is in the database."""
        if self._task is not None and not self._task.done():
            await self._queue.join()

    async def stop(self) -> None:
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                spend = await self._write(batch)
            except (SQLAlchemyError, OSError):
                logger.exception("could not record %d usage entries", len(batch))
                if self._on_failed is not None:
                    self._on_failed(len(batch))
            else:
                if self._on_written is not None:
                    self._on_written(spend)
                if self.after_write is not None:
                    await self.after_write(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[UsageEntry]) -> dict[str, float]:
        spend: dict[str, float] = defaultdict(float)
        async with self._db.session() as session:
            for e in batch:
                session.add(
                    SpendLog(
                        request_id=e.request_id,
                        key_id=e.key_id,
                        endpoint=e.endpoint,
                        model_group=e.model_group,
                        deployment=e.deployment,
                        prompt_tokens=e.usage.prompt_tokens,
                        completion_tokens=e.usage.completion_tokens,
                        latency_ms=e.latency_s * 1000,
                        ttft_ms=e.ttft_s * 1000 if e.ttft_s is not None else None,
                        cost=e.cost,
                        status_code=e.status_code,
                        stream=e.stream,
                        cache_hit=e.cache_hit,
                        created_at=e.created_at,
                    )
                )
                if e.key_id is not None and e.cost > 0:
                    spend[e.key_id] += e.cost
            for key_id, cost in spend.items():
                await session.execute(
                    update(VirtualKey)
                    .where(VirtualKey.id == key_id)
                    .values(spend=VirtualKey.spend + cost)
                )
            await session.commit()
        return spend
