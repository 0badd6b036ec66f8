"""``/spend/*``: usage and cost reports (master key)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from inferstack.gateway.routes.deps import gateway, master

__all__ = ["router"]

router = APIRouter(prefix="/spend", tags=["spend"], dependencies=[Depends(master)])


@router.get("/logs")
async def logs(
    request: Request,
    key_id: str | None = None,
    model: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = Query(default=100, ge=1, le=10_000),
) -> list[dict[str, Any]]:
    gw = gateway(request)
    await gw.recorder.flush()
    return await gw.reports.logs(
        key_id=key_id, model_group=model, start=start, end=end, limit=limit
    )


@router.get("/keys")
async def keys(request: Request) -> list[dict[str, Any]]:
    gw = gateway(request)
    await gw.recorder.flush()
    return await gw.reports.keys()


@router.get("/summary")
async def summary(
    request: Request, start: datetime | None = None, end: datetime | None = None
) -> dict[str, Any]:
    gw = gateway(request)
    await gw.recorder.flush()
    return await gw.reports.summary(start=start, end=end)
