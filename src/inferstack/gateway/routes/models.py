"""``/model/*``: deployments added, changed and removed at run time (LiteLLM's shapes)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from inferstack.gateway.identity import Principal
from inferstack.gateway.model_types import ModelDeleteRequest, ModelNewRequest, ModelUpdateRequest
from inferstack.gateway.routes.deps import gateway, principal

__all__ = ["router"]

router = APIRouter(prefix="/model", tags=["models"])


@router.post("/new")
async def new(
    spec: ModelNewRequest, request: Request, who: Principal = Depends(principal)
) -> dict[str, Any]:
    return await gateway(request).models.new(spec, who)


@router.get("/info")
async def info(request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    return gateway(request).models.info(who)


@router.post("/update")
async def update(
    change: ModelUpdateRequest, request: Request, who: Principal = Depends(principal)
) -> dict[str, Any]:
    return await gateway(request).models.update(change, who)


@router.post("/delete")
async def delete(
    spec: ModelDeleteRequest, request: Request, who: Principal = Depends(principal)
) -> dict[str, Any]:
    return await gateway(request).models.delete(spec.id, who)
