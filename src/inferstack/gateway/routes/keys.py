"""``/key/*``: virtual-key administration (master key), and ``/key/info`` on one's own key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from inferstack.errors import PermissionDeniedError
from inferstack.gateway.key_types import (
    KeyDeleteRequest,
    KeyGenerateRequest,
    KeyInfo,
    KeyRecord,
    KeyUpdateRequest,
)
from inferstack.gateway.routes.deps import caller, gateway, master

__all__ = ["router"]

router = APIRouter(prefix="/key", tags=["keys"])


@router.post("/generate")
async def generate(
    spec: KeyGenerateRequest, request: Request, _: KeyRecord = Depends(master)
) -> dict[str, Any]:
    secret, info = await gateway(request).keys.generate(spec)
    return {"key": secret, **info.model_dump(mode="json")}


@router.get("/info")
async def info(
    request: Request,
    key_id: str | None = None,
    key: str | None = None,
    who: KeyRecord = Depends(caller),
) -> KeyInfo:
    if not who.is_master:
        if (key_id is not None and key_id != who.key_id) or key is not None:
            raise PermissionDeniedError("a virtual key may only look up itself")
        key_id = who.key_id
    return await gateway(request).keys.info(key_id=key_id, key=key)


@router.post("/update")
async def update(
    change: KeyUpdateRequest, request: Request, _: KeyRecord = Depends(master)
) -> KeyInfo:
    return await gateway(request).keys.update(change)


@router.post("/delete")
async def delete(
    spec: KeyDeleteRequest, request: Request, _: KeyRecord = Depends(master)
) -> dict[str, list[str]]:
    return {"deleted_keys": await gateway(request).keys.delete(spec.key_ids, spec.keys)}


@router.get("/list")
async def list_keys(
    request: Request, include_revoked: bool = False, _: KeyRecord = Depends(master)
) -> dict[str, list[KeyInfo]]:
    return {"keys": await gateway(request).keys.list(include_revoked=include_revoked)}
