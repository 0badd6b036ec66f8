"""Usage rollups: per minute, hour and day, by key, team, user and model, kept as usage is
written (the same transaction as the spend log rows, so a replayed entry is never counted
twice: the recorder skips entries already logged, and their rollups with them).

Every row is split by model too, and key rows carry the key's team and user, so the console can
show a team's usage by model, or a user only their own keys, from rollups alone. Key, team and
user rows are also kept summed over all models (``model_group`` = :data:`ALL_MODELS`), which
is what a ranking or series not filtered by model reads: fewer rows.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from inferstack.gateway.db import UsageRollup

if TYPE_CHECKING:
    from inferstack.gateway.usage import UsageEntry

__all__ = ["ALL_MODELS", "DIMS", "GRANULARITIES", "STEP", "add_rollups", "aggregate", "floor_to"]

ALL_MODELS = "*"

GRANULARITIES = ("minute", "hour", "day")
DIMS = ("key", "team", "user", "model")
STEP = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}
_CONFLICT = ["granularity", "dim", "group_id", "model_group", "bucket"]


def floor_to(at: datetime, granularity: str) -> datetime:
    """The start of the ``granularity`` bucket holding ``at`` (UTC)."""
    at = at.replace(second=0, microsecond=0)
    if granularity in ("hour", "day"):
        at = at.replace(minute=0)
    if granularity == "day":
        at = at.replace(hour=0)
    return at


@dataclass
class _Sums:
    team_id: str | None
    user_id: str | None
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    errors: int = 0


def _groups(entry: UsageEntry) -> Iterable[tuple[str, str, str | None, str | None]]:
    """(dim, group id, team column, user column) of each rollup ``entry`` counts in."""
    if entry.key_id is not None:
        yield "key", entry.key_id, entry.team_id, entry.user_id
    if entry.team_id is not None:
        yield "team", entry.team_id, entry.team_id, None
    if entry.user_id is not None:
        yield "user", entry.user_id, None, entry.user_id
    yield "model", entry.model_group, None, None


def aggregate(entries: Iterable[UsageEntry]) -> dict[tuple[Any, ...], _Sums]:
    sums: dict[tuple[Any, ...], _Sums] = {}
    for e in entries:
        for granularity in GRANULARITIES:
            bucket = floor_to(e.created_at, granularity)
            for dim, group_id, team_id, user_id in _groups(e):
                models = (e.model_group,) if dim == "model" else (e.model_group, ALL_MODELS)
                for model in models:
                    key = (granularity, dim, group_id, model, bucket)
                    s = sums.get(key)
                    if s is None:
                        s = sums[key] = _Sums(team_id, user_id)
                    s.requests += 1
                    s.prompt_tokens += e.usage.prompt_tokens
                    s.completion_tokens += e.usage.completion_tokens
                    s.cost += e.cost
                    s.errors += 1 if e.status_code >= 400 else 0
    return sums


async def add_rollups(session: AsyncSession | AsyncConnection, entries: list[UsageEntry]) -> None:
    """Add ``entries`` to their rollup rows (upserts, in ``session``'s transaction)."""
    if not entries:
        return
    sums = aggregate(entries)
    rows = [
        {
            "granularity": g,
            "dim": dim,
            "group_id": group_id,
            "model_group": model,
            "bucket": bucket,
            "team_id": s.team_id,
            "user_id": s.user_id,
            "requests": s.requests,
            "prompt_tokens": s.prompt_tokens,
            "completion_tokens": s.completion_tokens,
            "cost": s.cost,
            "errors": s.errors,
        }
        # NOTE: one order for every writer, so replicas upserting the same rows never deadlock.
        for (g, dim, group_id, model, bucket), s in sorted(sums.items(), key=lambda kv: kv[0])
    ]
    bind = session.get_bind() if isinstance(session, AsyncSession) else session
    await session.execute(_upsert(bind.dialect.name), rows)


@functools.cache
def _upsert(dialect: str) -> Any:
    """The rollup upsert, built once per dialect (executed with one parameter set per row)."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(UsageRollup)
    excluded = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=_CONFLICT,
        set_={
            "requests": UsageRollup.requests + excluded.requests,
            "prompt_tokens": UsageRollup.prompt_tokens + excluded.prompt_tokens,
            "completion_tokens": UsageRollup.completion_tokens + excluded.completion_tokens,
            "cost": UsageRollup.cost + excluded.cost,
            "errors": UsageRollup.errors + excluded.errors,
        },
    )
