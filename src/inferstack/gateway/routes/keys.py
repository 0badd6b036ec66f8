"""``/key/*``: virtual-key administration; what a caller may do depends on their role."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from inferstack.gateway.identity import Principal
from inferstack.gateway.key_types import (
    KeyDeleteRequest,
    KeyGenerateRequest,
    KeyInfo,
    KeyUpdateRequest,
)
from inferstack.gateway.routes.deps import gateway, principal

__all__ = ["router"]

router = APIRouter(prefix="/key", tags=["keys"])


@router.post("/generate")
async def generate(
    spec: KeyGenerateRequest, request: Request, who: Principal = Depends(principal)
) -> dict[str, Any]:
    secret, info = await gateway(request).keys.generate(spec, who)
    return {"key": secret, **info.model_dump(mode="json")}


@router.get("/info")
async def info(
    request: Request,
    key_id: str | None = None,
    key: str | None = None,
    who: Principal = Depends(principal),
) -> KeyInfo:
    if key_id is None and key is None and who.key is not None:
        key_id = who.key.key_id
    return await gateway(request).keys.info(key_id=key_id, key=key, who=who)


@router.post("/update")
async def update(
    change: KeyUpdateRequest, request: Request, who: Principal = Depends(principal)
) -> KeyInfo:
    return await gateway(request).keys.update(change, who)


@router.post("/delete")
async def delete(
    spec: KeyDeleteRequest, request: Request, who: Principal = Depends(principal)
) -> dict[str, list[str]]:
    return {"deleted_keys": await gateway(request).keys.delete(spec.key_ids, spec.keys, who)}


@router.get("/list")
async def list_keys(
    request: Request,
    include_revoked: bool = False,
    team_id: str | None = None,
    user_id: str | None = None,
    cursor: str | None = None,
    limit: int | None = Query(default=None, ge=1, le=1000),
    who: Principal = Depends(principal),
) -> dict[str, Any]:
    """Every visible key (the old form), or a page of them with ``limit``/``cursor``."""
    keys, next_cursor = await gateway(request).keys.list(
        include_revoked=include_revoked,
        who=who,
        team_id=team_id,
        user_id=user_id,
        cursor=cursor,
        limit=limit if limit is not None or cursor is None else 100,
    )
    body: dict[str, Any] = {"keys": keys}
    if limit is not None or cursor is not None:
        body["next_cursor"] = next_cursor
    return body
