"""``/spend/*``: usage and cost reports.

``/spend/logs`` with ``cursor`` or ``paginate=true`` is the console's form: a page of the
caller's own requests (everyone's for readers), newest first. Without them it is the old list
form, for readers only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from inferstack.gateway.identity import Principal, require_reader
from inferstack.gateway.routes.deps import gateway, principal
from inferstack.gateway.usage_scope import UsageFilters, scoped

__all__ = ["router"]

router = APIRouter(prefix="/spend", tags=["spend"])


@router.get("/logs", response_model=None)
async def logs(
    request: Request,
    key_id: str | None = None,
    team_id: str | None = None,
    user_id: str | None = None,
    model: str | None = None,
    status: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    cursor: str | None = None,
    paginate: bool = False,
    limit: int = Query(default=100, ge=1, le=10_000),
    who: Principal = Depends(principal),
) -> list[dict[str, Any]] | dict[str, Any]:
    gw = gateway(request)
    if cursor is None and not paginate:
        require_reader(who)
        await gw.recorder.flush()
        return await gw.reports.logs(
            key_id=key_id, model_group=model, start=start, end=end, limit=limit
        )
    f = scoped(who, UsageFilters(key_id=key_id, team_id=team_id, user_id=user_id, model=model))
    page = await gw.reports.page(
        f, status=status, start=start, end=end, cursor=cursor, limit=min(limit, 1000)
    )
    return page.to_json()


@router.get("/keys")
async def keys(request: Request, who: Principal = Depends(principal)) -> list[dict[str, Any]]:
    require_reader(who)
    gw = gateway(request)
    await gw.recorder.flush()
    return await gw.reports.keys()


@router.get("/summary")
async def summary(
    request: Request,
    start: datetime | None = None,
    end: datetime | None = None,
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    require_reader(who)
    gw = gateway(request)
    await gw.recorder.flush()
    return await gw.reports.summary(start=start, end=end)
