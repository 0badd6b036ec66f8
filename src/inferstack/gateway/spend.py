"""Reading usage back: spend logs, spend per key, and a summary by key and by model."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, select

from inferstack.gateway.db import Database, SpendLog, VirtualKey

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
