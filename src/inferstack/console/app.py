"""Mounting the console on the gateway app: ``mount_console(app, gateway)``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import FastAPI

from inferstack.console import api, pages
from inferstack.console.auth import ConsoleAuth
from inferstack.console.sessions import MemorySessionStore, RedisSessionStore, SessionStore
from inferstack.console.settings import ConsoleSettings

__all__ = ["Console", "ConsoleGateway", "mount_console"]


class ConsoleGateway(Protocol):
    """The parts of the gateway the console uses (the gateway passes itself)."""

    keys: Any
    users: Any
    redis: Any
    telemetry: Any
    sessions: Any


@dataclass
class Console:
    """The console's parts; its routes reach it as ``request.app.state.console``."""

    auth: ConsoleAuth
    trace_url_template: str | None


def mount_console(
    app: FastAPI,
    gateway: ConsoleGateway,
    settings: ConsoleSettings,
    *,
    key_spec: Callable[..., Any],
) -> Console:
    """Serve the console under ``/ui`` and let the gateway's routes accept its sessions.

    ``key_spec`` builds the body of a key to mint (the gateway's ``KeyGenerateRequest``): the
    console imports nothing of the gateway, it is handed what it uses."""
    store: SessionStore = (
        RedisSessionStore(gateway.redis)
        if gateway.redis is not None
        else MemorySessionStore(settings.max_sessions)
    )
    auth = ConsoleAuth(
        gateway.keys,
        gateway.users,
        store,
        settings,
        is_master=gateway.keys.is_master,
        key_spec=key_spec,
    )
    tracing = bool(getattr(gateway.telemetry, "enabled", False))
    console = Console(
        auth=auth, trace_url_template=settings.trace_url_template if tracing else None
    )
    app.state.console = console
    gateway.sessions = auth.lookup
    app.include_router(api.router)
    app.include_router(pages.router_for(pages.Assets()))
    return console
