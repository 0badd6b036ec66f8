"""Usage over time and top spenders, read from the rollups only (never the request log).

A query scans the rollup rows of one dimension (``dim``) in a bucket range through an index;
which dimension depends on the grouping and the filters (see :func:`_plan`). Answers are
bounded: a series covers at most ``MAX_BUCKETS`` buckets and ``limit`` groups.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select

from inferstack.errors import InvalidRequestError
from inferstack.gateway.db import Database, UsageRollup
from inferstack.gateway.db.tables import utcnow
from inferstack.gateway.rollup_retention import MinuteRetention
from inferstack.gateway.rollups import ALL_MODELS, STEP, floor_to
from inferstack.gateway.usage_scope import UsageFilters

__all__ = ["MAX_BUCKETS", "UsageReports", "spans"]

MAX_BUCKETS = 1500
_DEFAULT_RANGE = {
    "minute": timedelta(hours=1),
    "hour": timedelta(days=1),
    "day": timedelta(days=30),
}
R = UsageRollup


@dataclass(frozen=True)
class _Plan:
    dim: str  # the rollup rows scanned
    group: Any  # the column grouped by
    where: list[ColumnElement[bool]]


def _plan(group_by: str, f: UsageFilters) -> _Plan:
    """Pick the rollup rows that can answer ``group_by`` under filters ``f``.

    Key rows carry every attribute (key, team, user, model), so they answer anything; team and
    user rows are smaller and answer questions about teams or users, by model.
    """
    if (
        f.key_id is not None
        or group_by == "key"
        or ((f.team_id or f.team_ids) and (f.user_id or group_by == "user"))
        or (f.user_id and group_by == "team")
    ):
        dim = "key"
    elif f.team_id or f.team_ids or group_by == "team":
        dim = "team"
    elif f.user_id or group_by == "user":
        dim = "user"
    else:
        dim = "model"
    column = {"key": R.group_id, "team": R.team_id, "user": R.user_id, "model": R.model_group}
    if dim == "team":
        column["team"] = R.group_id
    elif dim == "user":
        column["user"] = R.group_id
    elif dim == "model":
        column["model"] = R.group_id
    where: list[ColumnElement[bool]] = [R.dim == dim]
    if dim != "model":  # the rows summed over every model, unless models are asked about
        per_model = f.model is not None or group_by == "model"
        where.append(R.model_group != ALL_MODELS if per_model else R.model_group == ALL_MODELS)
    if f.key_id is not None:
        where.append(R.group_id == f.key_id)
    if f.team_id is not None:
        where.append(column["team"] == f.team_id)
    if f.team_ids:
        where.append(column["team"].in_(f.team_ids))
    if f.user_id is not None:
        where.append(column["user"] == f.user_id)
    if f.model is not None:
        where.append(R.model_group == f.model)
    return _Plan(dim=dim, group=column[group_by], where=where)


def spans(
    start: datetime, end: datetime, minutes_since: datetime | None = None
) -> list[tuple[str, datetime, datetime]]:
    """``[start, end)`` as whole days, with whole hours and minutes at its edges: the fewest
    rollup rows that sum to exactly that range, widened to whole minutes (every minute bucket
    that overlaps it). An edge before ``minutes_since`` (minute rollups are kept only that
    long) is widened to whole hours instead."""
    start, end = floor_to(start, "minute"), _ceil(end, "minute")
    if minutes_since is not None:
        if start < minutes_since:
            start = floor_to(start, "hour")
        if floor_to(end, "hour") < minutes_since:
            end = _ceil(end, "hour")
    out: list[tuple[str, datetime, datetime]] = []

    def cover(lo: datetime, hi: datetime, granularity: str) -> None:
        if lo >= hi:
            return
        if granularity == "minute":
            out.append(("minute", lo, hi))
            return
        finer = "hour" if granularity == "day" else "minute"
        first = floor_to(lo, granularity)
        first = first if first == lo else first + STEP[granularity]
        last = floor_to(hi, granularity)
        if first >= last:
            cover(lo, hi, finer)
            return
        cover(lo, first, finer)
        out.append((granularity, first, last))
        cover(last, hi, finer)

    cover(start, end, "day")
    return out


def _ceil(at: datetime, granularity: str) -> datetime:
    floor = floor_to(at, granularity)
    return floor if floor == at else floor + STEP[granularity]


def _window(
    start: datetime | None, end: datetime | None, default: timedelta
) -> tuple[datetime, datetime]:
    end = end or utcnow()
    start = start or end - default
    if start >= end:
        raise InvalidRequestError("start must be before end", param="start")
    return start, end


def _measures() -> list[Any]:
    return [
        func.sum(R.requests).label("requests"),
        func.sum(R.prompt_tokens).label("prompt_tokens"),
        func.sum(R.completion_tokens).label("completion_tokens"),
        func.sum(R.cost).label("cost"),
        func.sum(R.errors).label("errors"),
    ]


class UsageReports:
    def __init__(self, db: Database, retention: MinuteRetention | None = None) -> None:
        self._db = db
        self._retention = retention

    def _minutes_since(self) -> datetime | None:
        return self._retention.horizon() if self._retention is not None else None

    def _top_query(
        self, group_by: str, f: UsageFilters, start: datetime, end: datetime, limit: int
    ) -> Select[Any]:
        plan = _plan(group_by, f)
        ranges = [
            and_(R.granularity == g, R.bucket >= lo, R.bucket < hi)
            for g, lo, hi in spans(start, end)
        ]
        return (
            select(plan.group.label("group"), *_measures())
            .where(*plan.where, or_(*ranges) if ranges else R.id < 0)
            .group_by(plan.group)
            .order_by(func.sum(R.cost).desc(), plan.group)
            .limit(limit)
        )

    async def top(
        self,
        group_by: str,
        f: UsageFilters,
        *,
        start: datetime | None,
        end: datetime | None,
        limit: int,
    ) -> dict[str, Any]:
        """The ``limit`` groups that cost most in ``[start, end)`` (default: the last 30 days)."""
        start, end = _window(start, end, timedelta(days=30))
        query = self._top_query(group_by, f, start, end, limit)
        async with self._db.session() as session:
            rows = (await session.execute(query)).all()
        return {
            "group_by": group_by,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "data": [
                {
                    "group": r.group,
                    "requests": int(r.requests or 0),
                    "tokens": int((r.prompt_tokens or 0) + (r.completion_tokens or 0)),
                    "prompt_tokens": int(r.prompt_tokens or 0),
                    "completion_tokens": int(r.completion_tokens or 0),
                    "cost": float(r.cost or 0.0),
                    "errors": int(r.errors or 0),
                }
                for r in rows
                if r.group is not None
            ],
        }

    async def timeseries(
        self,
        group_by: str,
        granularity: str,
        f: UsageFilters,
        *,
        start: datetime | None,
        end: datetime | None,
        limit: int,
    ) -> dict[str, Any]:
        """Per bucket of ``granularity``, the ``limit`` costliest groups of the range."""
        start, end = _window(start, end, _DEFAULT_RANGE[granularity])
        first = floor_to(start, granularity)
        kept = self._minutes_since()
        if granularity == "minute" and kept is not None and first < floor_to(kept, "minute"):
            raise InvalidRequestError(
                f"minute rollups are kept for {self._retention.hours:g} h (since "  # type: ignore[union-attr]
                f"{kept.isoformat()}); start later or choose hour",
                param="start",
            )
        if (end - first) / STEP[granularity] > MAX_BUCKETS:
            raise InvalidRequestError(
                f"{granularity} buckets from {start.isoformat()} to {end.isoformat()} are more "
                f"than {MAX_BUCKETS}; choose a coarser granularity or a shorter range",
                param="granularity",
            )
        plan = _plan(group_by, f)
        async with self._db.session() as session:
            top = self._top_query(group_by, f, first, end, limit)
            groups = [r.group for r in (await session.execute(top)).all() if r.group is not None]
            query = (
                select(R.bucket, plan.group.label("group"), *_measures())
                .where(
                    *plan.where,
                    R.granularity == granularity,
                    R.bucket >= first,
                    R.bucket < end,
                    plan.group.in_(groups),
                )
                .group_by(R.bucket, plan.group)
                .order_by(R.bucket, plan.group)
            )
            rows = (await session.execute(query)).all() if groups else []
        return {
            "group_by": group_by,
            "granularity": granularity,
            "start": first.isoformat(),
            "end": end.isoformat(),
            "groups": groups,
            "data": [
                {
                    "bucket": _iso(r.bucket),
                    "group": r.group,
                    "requests": int(r.requests or 0),
                    "prompt_tokens": int(r.prompt_tokens or 0),
                    "completion_tokens": int(r.completion_tokens or 0),
                    "cost": float(r.cost or 0.0),
                    "errors": int(r.errors or 0),
                }
                for r in rows
            ],
        }


def _iso(value: datetime | str) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)
