"""Per-minute rollups are kept for ``usage_minute_rollups_h`` only: they are the largest (about
one row per request and dimension); hour and day rollups, and the request log, stay."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError

from inferstack.gateway.db import Database, UsageRollup
from inferstack.gateway.db.tables import utcnow
from inferstack.gateway.rollups import DIMS

__all__ = ["MinuteRetention"]

logger = logging.getLogger(__name__)

_BATCH = 10_000


class MinuteRetention:
    """Deletes minute rollups older than ``hours``, a batch at a time, every ``every_s``."""

    def __init__(self, db: Database, hours: float, *, every_s: float = 600.0) -> None:
        self._db = db
        self.hours = hours
        self._every_s = every_s
        self._task: asyncio.Task[None] | None = None

    def horizon(self, now: datetime | None = None) -> datetime:
        """The oldest minute bucket still kept."""
        return (now or utcnow()) - timedelta(hours=self.hours)

    async def prune(self, now: datetime | None = None) -> int:
        """Delete what is past the horizon; returns the number of rows deleted."""
        horizon, total = self.horizon(now), 0
        for dim in DIMS:  # through the scan index (granularity, dim, …), one dimension at a time
            while True:
                old = (
                    select(UsageRollup.id)
                    .where(
                        UsageRollup.granularity == "minute",
                        UsageRollup.dim == dim,
                        UsageRollup.bucket < horizon,
                    )
                    .limit(_BATCH)
                )
                async with self._db.session() as session:
                    ids = list(await session.scalars(old))
                    if ids:
                        await session.execute(delete(UsageRollup).where(UsageRollup.id.in_(ids)))
                        await session.commit()
                total += len(ids)
                if len(ids) < _BATCH:
                    break
        return total

    async def _run(self) -> None:
        while True:
            try:
                deleted = await self.prune()
                if deleted:
                    logger.info("deleted %d minute rollups older than %g h", deleted, self.hours)
            except (SQLAlchemyError, OSError) as exc:
                logger.warning("could not prune minute rollups: %s", exc)
            await asyncio.sleep(self._every_s)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gateway-rollup-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
