"""Shared route dependencies: the gateway container and who is calling.

A caller is a :class:`Principal`: the master key, a virtual key (as its user, with the user's
role), or a console session. The console registers its session lookup as ``Gateway.sessions``
(see :data:`inferstack.gateway.identity.SessionLookup`); a bearer key, when sent, wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request

from inferstack.errors import AuthenticationError
from inferstack.gateway.handler import bearer_key
from inferstack.gateway.identity import Principal, require_admin
from inferstack.gateway.key_types import KeyRecord

if TYPE_CHECKING:
    from inferstack.gateway.app import Gateway

__all__ = ["admin", "caller", "gateway", "master", "principal", "session_principal"]


def gateway(request: Request) -> Gateway:
    return request.app.state.gateway  # type: ignore[no-any-return]


async def caller(request: Request) -> KeyRecord:
    return await gateway(request).keys.authenticate(bearer_key(request))


async def session_principal(request: Request) -> Principal | None:
    """The principal of the request's console session, if the console is mounted and the
    request carries one."""
    lookup = gateway(request).sessions
    return await lookup(request) if lookup is not None else None


async def principal(request: Request) -> Principal:
    """Who is calling: from the bearer key if one is sent, else the console session; 401."""
    gw = gateway(request)
    token = bearer_key(request)
    if token:
        return await gw.users.principal_of_key(await gw.keys.authenticate(token))
    found = await session_principal(request)
    if found is None:
        raise AuthenticationError("missing API key: send 'Authorization: Bearer <key>'")
    return found


async def admin(request: Request) -> Principal:
    """Routes for the proxy_admin role (the master key or an admin user)."""
    who = await principal(request)
    require_admin(who)
    return who


master = admin
