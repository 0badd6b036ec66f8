"""Shared route dependencies: the gateway container and the caller's key."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request

from inferstack.errors import PermissionDeniedError
from inferstack.gateway.handler import bearer_key
from inferstack.gateway.key_types import KeyRecord

if TYPE_CHECKING:
    from inferstack.gateway.app import Gateway

__all__ = ["caller", "gateway", "master"]


def gateway(request: Request) -> Gateway:
    return request.app.state.gateway  # type: ignore[no-any-return]


async def caller(request: Request) -> KeyRecord:
    return await gateway(request).keys.authenticate(bearer_key(request))


async def master(request: Request) -> KeyRecord:
    """Admin routes take the master key only."""
    key = await caller(request)
    if not key.is_master:
        raise PermissionDeniedError("this route needs the master key")
    return key
