"""Usage and cost: price one request, and record every request in the background."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from inferstack.gateway.db import Database, SpendLog, Team, User, VirtualKey
from inferstack.gateway.db.tables import utcnow
from inferstack.gateway.rollups import add_rollups
from inferstack.gateway.settings import DeploymentConfig

if TYPE_CHECKING:
    from inferstack.gateway.outbox import Outbox

__all__ = ["Usage", "UsageEntry", "UsageRecorder", "request_cost", "spend_names"]

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
    entry_id: str = field(default_factory=lambda: secrets.token_hex(16))  # unique: never doubled
    segment: int = 0  # the outbox segment holding it (not stored)
    fresh: bool = True  # never written nor replayed: it cannot be in the database (not stored)
    team_id: str | None = None
    user_id: str | None = None
    trace_id: str | None = None


def spend_names(entry: UsageEntry) -> list[str]:
    """Whose spend ``entry`` adds to: its key, ``team:<id>`` and ``user:<id>``."""
    names = [entry.key_id] if entry.key_id is not None else []
    if entry.team_id is not None:
        names.append(f"team:{entry.team_id}")
    if entry.user_id is not None:
        names.append(f"user:{entry.user_id}")
    return names


class UsageRecorder:
    """Writes spend logs and key spend in batches, off the request path.

    With an outbox every entry is on disk before the client has its answer; a failed write is
    retried (with backoff) until the database takes it, never dropped; an entry left when the
    process stops is replayed by the next one. ``failing`` and ``alive`` feed ``/ready``.
    """

    def __init__(
        self,
        db: Database,
        *,
        outbox: Outbox | None = None,
        on_written: Callable[[dict[str, float]], None] | None = None,
        on_failed: Callable[[int], None] | None = None,
        max_batch: int = 500,
        retry_max_s: float = 5.0,
        drain_timeout_s: float = 20.0,
        linger_s: float = 0.0,
    ) -> None:
        self._db = db
        self._outbox = outbox
        self._on_written = on_written
        self._on_failed = on_failed
        self._max_batch = max_batch
        self._retry_max_s = retry_max_s
        self._drain_timeout_s = drain_timeout_s
        self._linger_s = linger_s
        self._queue: asyncio.Queue[UsageEntry] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.failing = False  # the last write failed; retrying
        # Called with each batch once it is committed (the budget leases it held shrink).
        self.after_write: Callable[[list[UsageEntry]], Awaitable[None]] | None = None

    def start(self) -> None:
        if self._outbox is not None:
            for entry in self._outbox.open():
                self._queue.put_nowait(entry)
        self._task = asyncio.create_task(self._run(), name="gateway-usage-recorder")
        self._task.add_done_callback(self._ended)

    @staticmethod
    def _ended(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            logger.critical("the usage recorder died: /ready reports it", exc_info=task.exception())

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    def record(self, entry: UsageEntry) -> None:
        """Queue ``entry``; with an outbox it is on disk when this returns."""
        if self._outbox is not None:
            try:
                self._outbox.append(entry)
            except OSError:  # fail open: the entry still goes to the database from memory
                logger.exception("could not append usage entry %s to the outbox", entry.entry_id)
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
        """Drain within ``drain_timeout_s``; what is left stays in the outbox for next time."""
        try:
            await asyncio.wait_for(self.flush(), self._drain_timeout_s)
        except TimeoutError:
            logger.error("%d usage entries left in the outbox for the next start", self.pending)
        if self._task is not None and not self._task.done():  # a dead one was logged already
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._outbox is not None:
            self._outbox.close()

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            if self._linger_s and self._queue.qsize() < self._max_batch:
                # One transaction for what arrives meanwhile: under load a write per request
                # costs the event loop more than the requests themselves.
                await asyncio.sleep(self._linger_s)
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            spend = await self._write_until_done(batch)
            if self._outbox is not None:
                self._outbox.written(batch)
            if self._on_written is not None:
                self._on_written(spend)
            if self.after_write is not None:
                try:
                    await self.after_write(batch)
                except Exception:  # top level of the task: a lease store hiccup must not kill it
                    logger.exception("could not shorten the budget leases of written usage")
            for _ in batch:
                self._queue.task_done()

    async def _write_until_done(self, batch: list[UsageEntry]) -> dict[str, float]:
        delay = 0.05
        while True:
            try:
                spend = await self._write(batch)
            except (SQLAlchemyError, OSError):
                logger.exception("could not record %d usage entries; retrying", len(batch))
                self.failing = True
                if self._on_failed is not None:
                    self._on_failed(len(batch))
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max_s)
            else:
                self.failing = False
                return spend

    async def _write(self, batch: list[UsageEntry]) -> dict[str, float]:
        """Spend logs, rollups and key/team/user spend of ``batch``, in one transaction; an
        entry already written (replayed from the outbox) is skipped for all three.

        NOTE: Core statements on a connection, not the ORM: each is compiled once and cached,
        and a batch costs a few executes instead of a session and its unit of work.
        """
        spend: dict[str, float] = defaultdict(float)
        # NOTE: only an entry tried before (or replayed) may be in the database already.
        ids = [e.entry_id for e in batch if not e.fresh]
        for e in batch:
            e.fresh = False
        async with self._db.engine.begin() as conn:
            done = (
                set(await conn.scalars(select(_LOGS.c.entry_id).where(_LOGS.c.entry_id.in_(ids))))
                if ids
                else set()
            )
            fresh = [e for e in batch if e.entry_id not in done]
            if fresh:
                await conn.execute(_INSERT_LOG, [_log_row(e) for e in fresh])
            for e in fresh:
                if e.cost > 0:
                    for name in spend_names(e):
                        spend[name] += e.cost
            await add_rollups(conn, fresh)
            for name, cost in sorted(spend.items()):  # one order: no deadlock between replicas
                table, row_id = _spender(name)
                await conn.execute(
                    update(table).where(table.id == row_id).values(spend=table.spend + cost)
                )
        return spend


def _spender(name: str) -> tuple[type[VirtualKey] | type[Team] | type[User], str]:
    kind, _, rest = name.partition(":")
    if kind == "team" and rest:
        return Team, rest
    if kind == "user" and rest:
        return User, rest
    return VirtualKey, name


_LOGS = SpendLog.__table__
_INSERT_LOG = _LOGS.insert()


def _log_row(e: UsageEntry) -> dict[str, object]:
    return {
        "entry_id": e.entry_id,
        "request_id": e.request_id,
        "key_id": e.key_id,
        "team_id": e.team_id,
        "user_id": e.user_id,
        "trace_id": e.trace_id,
        "endpoint": e.endpoint,
        "model_group": e.model_group,
        "deployment": e.deployment,
        "prompt_tokens": e.usage.prompt_tokens,
        "completion_tokens": e.usage.completion_tokens,
        "latency_ms": e.latency_s * 1000,
        "ttft_ms": e.ttft_s * 1000 if e.ttft_s is not None else None,
        "cost": e.cost,
        "status_code": e.status_code,
        "stream": e.stream,
        "cache_hit": e.cache_hit,
        "created_at": e.created_at,
    }
