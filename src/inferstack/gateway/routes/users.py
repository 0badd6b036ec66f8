"""``/user/*``: users and their roles (LiteLLM's shapes); ``/audit``: the admin action log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from inferstack.gateway.identity import ROLES, Principal, require_reader
from inferstack.gateway.routes.deps import gateway, principal
from inferstack.gateway.user_types import UserDeleteRequest, UserNewRequest, UserUpdateRequest

__all__ = ["router"]

router = APIRouter(tags=["users"])


@router.post("/user/new")
async def new(
    spec: UserNewRequest, request: Request, who: Principal = Depends(principal)
) -> dict[str, Any]:
    return await gateway(request).users.new(spec, who)


@router.get("/user/info")
async def info(
    request: Request, user_id: str | None = None, who: Principal = Depends(principal)
) -> dict[str, Any]:
    return await gateway(request).users.info(user_id, who)


@router.post("/user/update")
async def update(
    change: UserUpdateRequest, request: Request, who: Principal = Depends(principal)
) -> dict[str, Any]:
    return await gateway(request).users.update(change, who)


@router.post("/user/delete")
async def delete(
    spec: UserDeleteRequest, request: Request, who: Principal = Depends(principal)
) -> dict[str, list[str]]:
    return {"deleted_users": await gateway(request).users.delete(spec.user_ids, who)}


@router.get("/user/list")
async def list_users(
    request: Request,
    cursor: str | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
    role: str | None = Query(default=None, pattern="^(" + "|".join(ROLES) + ")$"),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    page = await gateway(request).users.list(who, cursor=cursor, limit=limit, role=role)
    return {"users": page.data, "next_cursor": page.next_cursor}


@router.get("/audit")
async def audit(
    request: Request,
    cursor: str | None = None,
    limit: int = Query(default=50, ge=1, le=500),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    require_reader(who)
    return (await gateway(request).audit.page(cursor=cursor, limit=limit)).to_json()
