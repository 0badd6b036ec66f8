"""Reading usage back: spend logs, spend per key, and a summary by key and by model."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, or_, select

from inferstack.errors import InvalidRequestError
from inferstack.gateway.db import Database, SpendLog, VirtualKey
from inferstack.gateway.pagination import Page, decode_time_cursor, encode_cursor
from inferstack.gateway.usage_scope import UsageFilters

__all__ = ["SpendReports"]


def _window(query: Select[Any], start: datetime | None, end: datetime | None) -> Select[Any]:
    if start is not None:
        query = query.where(SpendLog.created_at >= start)
    if end is not None:
        query = query.where(SpendLog.created_at < end)
    return query


def _totals() -> list[Any]:
    return [
        func.count(SpendLog.id).label("requests"),
        func.coalesce(func.sum(SpendLog.prompt_tokens), 0).label("prompt_tokens"),
        func.coalesce(func.sum(SpendLog.completion_tokens), 0).label("completion_tokens"),
        func.coalesce(func.sum(SpendLog.cost), 0.0).label("spend"),
        func.coalesce(func.avg(SpendLog.latency_ms), 0.0).label("avg_latency_ms"),
        func.coalesce(func.sum(case((SpendLog.status_code >= 400, 1), else_=0)), 0).label("errors"),
    ]


def _row(row: Any, *names: str) -> dict[str, Any]:
    out = {name: getattr(row, name) for name in names}
    out.update(
        requests=int(row.requests),
        prompt_tokens=int(row.prompt_tokens),
        completion_tokens=int(row.completion_tokens),
        spend=float(row.spend),
        avg_latency_ms=float(row.avg_latency_ms),
        errors=int(row.errors),
    )
    return out


def _log_json(row: SpendLog) -> dict[str, Any]:
    return {
        "id": row.id,
        "request_id": row.request_id,
        "key_id": row.key_id,
        "team_id": row.team_id,
        "user_id": row.user_id,
        "endpoint": row.endpoint,
        "model_group": row.model_group,
        "deployment": row.deployment,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "total_tokens": row.prompt_tokens + row.completion_tokens,
        "latency_ms": row.latency_ms,
        "ttft_ms": row.ttft_ms,
        "cost": row.cost,
        "status_code": row.status_code,
        "stream": row.stream,
        "cache_hit": row.cache_hit,
        "created_at": row.created_at.isoformat(),
        "trace_id": row.trace_id,
    }


def _filtered(query: Select[Any], f: UsageFilters, status: str | None) -> Select[Any]:
    for column, value in (
        (SpendLog.key_id, f.key_id),
        (SpendLog.team_id, f.team_id),
        (SpendLog.user_id, f.user_id),
        (SpendLog.model_group, f.model),
    ):
        if value is not None:
            query = query.where(column == value)
    if f.team_ids:
        query = query.where(SpendLog.team_id.in_(f.team_ids))
    if status == "error":
        query = query.where(SpendLog.status_code >= 400)
    elif status == "success":
        query = query.where(SpendLog.status_code < 400)
    elif status is not None:
        if not status.isdigit():
            raise InvalidRequestError(
                "status is 'success', 'error' or an HTTP status code", param="status"
            )
        query = query.where(SpendLog.status_code == int(status))
    return query


class SpendReports:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def logs(
        self,
        *,
        key_id: str | None = None,
        model_group: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Newest request records first."""
        query = _window(select(SpendLog), start, end).order_by(SpendLog.id.desc()).limit(limit)
        if key_id is not None:
            query = query.where(SpendLog.key_id == key_id)
        if model_group is not None:
            query = query.where(SpendLog.model_group == model_group)
        async with self._db.session() as session:
            rows = (await session.scalars(query)).all()
        columns = [c.key for c in SpendLog.__table__.columns]
        return [{name: getattr(row, name) for name in columns} for row in rows]

    async def page(
        self,
        f: UsageFilters,
        *,
        status: str | None,
        start: datetime | None,
        end: datetime | None,
        cursor: str | None,
        limit: int,
    ) -> Page:
        """Newest requests first, ``limit`` at a time: keyset pagination on (created_at, id),
        served by the index of whichever filter is given (never an OFFSET scan)."""
        query = _filtered(_window(select(SpendLog), start, end), f, status)
        if cursor is not None:
            at, last_id = decode_time_cursor(cursor)
            if not isinstance(last_id, int):
                raise InvalidRequestError("not a cursor this API returned", param="cursor")
            # NOTE: the redundant ``created_at <= at`` bounds the index range scan.
            query = query.where(
                SpendLog.created_at <= at,
                or_(SpendLog.created_at < at, SpendLog.id < last_id),
            )
        query = query.order_by(SpendLog.created_at.desc(), SpendLog.id.desc()).limit(limit + 1)
        async with self._db.session() as session:
            rows = list(await session.scalars(query))
        more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1] if rows else None
        return Page(
            data=[_log_json(r) for r in rows],
            next_cursor=encode_cursor(last.created_at.isoformat(), last.id)
            if more and last
            else None,
        )

    async def keys(self) -> list[dict[str, Any]]:
        """Each live key's spend and budget."""
        query = (
            select(VirtualKey)
            .where(VirtualKey.revoked.is_(False))
            .order_by(VirtualKey.spend.desc())
        )
        async with self._db.session() as session:
            rows = (await session.scalars(query)).all()
        return [
            {
                "key_id": row.id,
                "alias": row.alias,
                "spend": row.spend,
                "max_budget": row.max_budget,
                "budget_reset_at": row.budget_reset_at,
            }
            for row in rows
        ]

    async def summary(
        self, *, start: datetime | None = None, end: datetime | None = None
    ) -> dict[str, Any]:
        """Requests, tokens, spend, latency and errors, by key and by model group."""
        by_key = _window(select(SpendLog.key_id, *_totals()), start, end).group_by(SpendLog.key_id)
        by_model = _window(select(SpendLog.model_group, *_totals()), start, end).group_by(
            SpendLog.model_group
        )
        total = _window(select(*_totals()), start, end)
        async with self._db.session() as session:
            keys = (await session.execute(by_key)).all()
            models = (await session.execute(by_model)).all()
            overall = (await session.execute(total)).one()
        return {
            "by_key": [_row(r, "key_id") for r in keys],
            "by_model": [_row(r, "model_group") for r in models],
            "total": _row(overall),
        }
