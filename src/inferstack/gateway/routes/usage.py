"""``/usage/*``: usage over time and top spenders, from the rollups; scoped to the caller."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from inferstack.gateway.identity import Principal
from inferstack.gateway.routes.deps import gateway, principal
from inferstack.gateway.usage_scope import UsageFilters, scoped

__all__ = ["router"]

router = APIRouter(prefix="/usage", tags=["usage"])

GroupBy = Literal["key", "team", "user", "model"]


@router.get("/timeseries")
async def timeseries(
    request: Request,
    group_by: GroupBy = "model",
    granularity: Literal["minute", "hour", "day"] = "hour",
    start: datetime | None = None,
    end: datetime | None = None,
    key_id: str | None = None,
    team_id: str | None = None,
    user_id: str | None = None,
    model: str | None = None,
    limit: int = Query(default=10, ge=1, le=50),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    f = scoped(who, UsageFilters(key_id=key_id, team_id=team_id, user_id=user_id, model=model))
    return await gateway(request).usage.timeseries(
        group_by, granularity, f, start=start, end=end, limit=limit
    )


@router.get("/top")
async def top(
    request: Request,
    group_by: GroupBy = "key",
    start: datetime | None = None,
    end: datetime | None = None,
    key_id: str | None = None,
    team_id: str | None = None,
    user_id: str | None = None,
    model: str | None = None,
    limit: int = Query(default=10, ge=1, le=100),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    f = scoped(who, UsageFilters(key_id=key_id, team_id=team_id, user_id=user_id, model=model))
    return await gateway(request).usage.top(group_by, f, start=start, end=end, limit=limit)
