"""``/team/*``: teams, their limits and members (LiteLLM's shapes)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from inferstack.gateway.identity import Principal
from inferstack.gateway.routes.deps import gateway, principal
from inferstack.gateway.user_types import (
    MemberAddRequest,
    MemberDeleteRequest,
    TeamDeleteRequest,
    TeamNewRequest,
    TeamUpdateRequest,
)

__all__ = ["router"]

router = APIRouter(prefix="/team", tags=["teams"])


@router.post("/new")
async def new(
    spec: TeamNewRequest, request: Request, who: Principal = Depends(principal)
) -> dict[str, Any]:
    return await gateway(request).teams.new(spec, who)


@router.get("/info")
async def info(
    team_id: str, request: Request, who: Principal = Depends(principal)
) -> dict[str, Any]:
    return await gateway(request).teams.info(team_id, who)


@router.post("/update")
async def update(
    change: TeamUpdateRequest, request: Request, who: Principal = Depends(principal)
) -> dict[str, Any]:
    return await gateway(request).teams.update(change, who)


@router.post("/delete")
async def delete(
    spec: TeamDeleteRequest, request: Request, who: Principal = Depends(principal)
) -> dict[str, list[str]]:
    return {"deleted_teams": await gateway(request).teams.delete(spec.team_ids, who)}


@router.get("/list")
async def list_teams(request: Request, who: Principal = Depends(principal)) -> list[dict[str, Any]]:
    return await gateway(request).teams.list(who)


@router.post("/member_add")
async def member_add(
    spec: MemberAddRequest, request: Request, who: Principal = Depends(principal)
) -> dict[str, Any]:
    return await gateway(request).teams.member_add(spec, who)


@router.post("/member_delete")
async def member_delete(
    spec: MemberDeleteRequest, request: Request, who: Principal = Depends(principal)
) -> dict[str, Any]:
    return await gateway(request).teams.member_delete(spec, who)
