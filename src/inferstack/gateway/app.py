"""The gateway app factory: ``build_gateway_app(settings)`` wires every part onto ``app.state``."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from inferstack.console import mount_console
from inferstack.gateway.audit import AuditTrail
from inferstack.gateway.cache import MemoryCache, RedisCache, ResponseCache
from inferstack.gateway.db import Database
from inferstack.gateway.deployments import DeploymentPool
from inferstack.gateway.fastpath import GatewayApp, ProxyEndpoint
from inferstack.gateway.guardrail import PiiGuardrail
from inferstack.gateway.handler import OpenAIHandler
from inferstack.gateway.health import HealthChecker
from inferstack.gateway.identity import SessionLookup
from inferstack.gateway.key_types import KeyGenerateRequest
from inferstack.gateway.keys import KeyService
from inferstack.gateway.limits import Counters, KeyLimits, MemoryCounters, RedisCounters
from inferstack.gateway.masterkey import ensure_master_key
from inferstack.gateway.metrics import GatewayMetrics
from inferstack.gateway.middleware import RequestIdMiddleware
from inferstack.gateway.models_admin import ModelRegistry
from inferstack.gateway.outbox import Outbox
from inferstack.gateway.proxy import Proxy
from inferstack.gateway.rollup_retention import MinuteRetention
from inferstack.gateway.routes import keys, models, openai, ops, spend, teams, usage, users
from inferstack.gateway.routing import make_strategy
from inferstack.gateway.settings import GatewaySettings
from inferstack.gateway.settlement import Settlement
from inferstack.gateway.spend import SpendReports
from inferstack.gateway.teams import TeamService
from inferstack.gateway.tracing import GatewayTracer
from inferstack.gateway.upstream_http import upstream_mounts
from inferstack.gateway.usage import UsageRecorder
from inferstack.gateway.usage_reports import UsageReports
from inferstack.gateway.users import UserService
from inferstack.http_errors import install_error_handlers
from inferstack.telemetry.asgi import TracingMiddleware
from inferstack.telemetry.settings import TelemetrySettings
from inferstack.telemetry.tracing import Telemetry

__all__ = ["Gateway", "build_gateway_app"]

logger = logging.getLogger(__name__)


@dataclass
class Gateway:
    """Every part of one gateway app; routes reach it as ``request.app.state.gateway``."""

    settings: GatewaySettings
    db: Database
    keys: KeyService
    pool: DeploymentPool
    openai: OpenAIHandler
    recorder: UsageRecorder
    reports: SpendReports
    health: HealthChecker
    metrics: GatewayMetrics
    counters: Counters
    client: httpx.AsyncClient
    settlement: Settlement
    telemetry: Telemetry
    users: UserService
    teams: TeamService
    audit: AuditTrail
    usage: UsageReports
    models: ModelRegistry
    retention: MinuteRetention
    redis: Any = None
    own_telemetry: bool = False
    sessions: SessionLookup | None = None
    """The console's session lookup (set by the console when it mounts itself)."""

    async def start(self) -> None:
        await self.db.migrate()
        await self.models.start()
        self.recorder.start()
        self.health.start()
        self.retention.start()

    async def stop(self) -> None:
        await self.retention.stop()
        await self.models.stop()
        await self.health.stop()
        await self.settlement.drain()
        await self.recorder.stop()
        await self.client.aclose()
        await self.counters.close()
        await self.db.close()
        if self.own_telemetry:
            self.telemetry.shutdown()


def _master_key(settings: GatewaySettings) -> str:
    if settings.master_key is not None:
        return settings.master_key.get_secret_value()
    key, _ = ensure_master_key(settings.resolved_master_key_file())
    return key


def _redis(settings: GatewaySettings, given: Any) -> Any:
    if given is not None or not settings.redis_url:
        return given
    from redis.asyncio import Redis

    return Redis.from_url(settings.redis_url)


def _cache(settings: GatewaySettings, redis: Any) -> ResponseCache | None:
    if not settings.cache.enabled:
        return None
    if settings.cache.backend == "redis":
        return RedisCache(redis, ttl_s=settings.cache.ttl_s)
    return MemoryCache(
        ttl_s=settings.cache.ttl_s,
        max_entries=settings.cache.max_entries,
        max_bytes=settings.cache.max_bytes,
    )


def _build(
    settings: GatewaySettings,
    *,
    master_key: str | None,
    transport: httpx.AsyncBaseTransport | None,
    redis: Any,
    rng: random.Random | None,
    sleep: Callable[[float], Awaitable[None]],
    telemetry: Telemetry | None,
) -> Gateway:
    own_telemetry = telemetry is None
    tel = telemetry or Telemetry.from_settings(
        TelemetrySettings(), service_name="inferstack-gateway"
    )
    tracer = GatewayTracer(tel)
    db = Database(settings.resolved_database_url())
    pool = DeploymentPool(settings)
    registry = ModelRegistry(db, pool, refresh_s=settings.models_refresh_s)
    retention = MinuteRetention(db, settings.usage_minute_rollups_h)
    key_service = KeyService(
        db,
        master_key or _master_key(settings),
        cache_ttl_s=settings.key_cache_ttl_s,
        unknown_ttl_s=settings.unknown_key_cache_ttl_s,
        org=settings.org_limits,
        access=registry.access_groups,
    )
    redis = _redis(settings, redis)
    counters: Counters = RedisCounters(redis) if redis is not None else MemoryCounters()
    # NOTE: connection limits well above any sane concurrency: the gateway must never queue
    # requests in its own pool; upstreams do admission control.
    # plain-HTTP upstreams (the model servers) on the lean transport, unless one is given
    mounts = upstream_mounts() if transport is None else {}
    client = httpx.AsyncClient(
        transport=transport,
        mounts=mounts or None,
        limits=httpx.Limits(max_connections=4096, max_keepalive_connections=512),
        timeout=httpx.Timeout(settings.router.timeout_s, connect=settings.router.connect_timeout_s),
    )
    metrics = GatewayMetrics(tel)
    recorder = UsageRecorder(
        db,
        outbox=Outbox(settings.resolved_usage_outbox_dir()),
        on_written=key_service.spend_written,
        on_failed=metrics.usage_write_errors.inc,
        drain_timeout_s=settings.shutdown_drain_s,
        linger_s=settings.usage_batch_linger_s,
    )
    guardrail = PiiGuardrail(settings.guardrail) if settings.guardrail.enabled else None
    limits = KeyLimits(
        counters,
        lease_ttl_s=settings.lease_ttl_s,
        settled_ttl_s=settings.key_cache_ttl_s + 5.0,
        shared=redis is not None,
    )
    settlement = Settlement(
        keys=key_service, limits=limits, recorder=recorder, metrics=metrics, tracer=tracer
    )
    recorder.after_write = settlement.written
    proxy = Proxy(
        router=settings.router,
        pool=pool,
        strategy=make_strategy(settings.router.strategy, rng),
        client=client,
        direct=mounts.get("http://"),
        settlement=settlement,
        guardrail=guardrail,
        cache=_cache(settings, redis),
        cache_shared=settings.cache.shared,
        sleep=sleep,
        tracer=tracer,
    )
    handler = OpenAIHandler(
        groups=pool.groups,
        capabilities={
            name: group.capabilities
            for name, group in settings.model_groups.items()
            if group.capabilities is not None
        },
        keys=key_service,
        limits=limits,
        proxy=proxy,
        settlement=settlement,
        guardrail=guardrail,
        max_body_bytes=settings.max_body_bytes,
        tracer=tracer,
        default_output_tokens=settings.default_output_tokens,
        timeout_s=settings.router.timeout_s,
    )
    return Gateway(
        settings=settings,
        db=db,
        keys=key_service,
        pool=pool,
        openai=handler,
        recorder=recorder,
        reports=SpendReports(db),
        health=HealthChecker(pool, client, settings.health_check),
        metrics=metrics,
        counters=counters,
        client=client,
        settlement=settlement,
        telemetry=tel,
        users=UserService(db, on_change=key_service.forget_all),
        teams=TeamService(db, on_change=key_service.forget_all),
        audit=AuditTrail(db),
        usage=UsageReports(db, retention=retention),
        retention=retention,
        models=registry,
        redis=redis,
        own_telemetry=own_telemetry,
    )


def build_gateway_app(
    settings: GatewaySettings,
    *,
    master_key: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    redis: Any = None,
    rng: random.Random | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    telemetry: Telemetry | None = None,
) -> FastAPI:
    """Build the gateway ASGI app.

    ``master_key`` overrides the settings' key (else the key file is read or created);
    ``transport`` replaces the upstream HTTP transport (tests use ``httpx.MockTransport``);
    ``redis`` is a ``redis.asyncio`` client (else one is made from ``settings.redis_url``).
    ``telemetry`` defaults to tracing as :class:`TelemetrySettings` and the ``OTEL_*``
    variables say (off unless configured).
    The database schema is migrated when the app starts (its lifespan).
    """
    gw = _build(
        settings,
        master_key=master_key,
        transport=transport,
        redis=redis,
        rng=rng,
        sleep=sleep,
        telemetry=telemetry,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await gw.start()
        try:
            yield
        finally:
            await gw.stop()

    app = GatewayApp(title="inferstack gateway", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.gateway = gw
    install_error_handlers(app, logger)
    for module in (openai, keys, teams, users, models, spend, usage, ops):
        app.include_router(module.router)
    if settings.console.enabled:
        mount_console(app, gw, settings.console, key_spec=KeyGenerateRequest)
    cors = {
        "allow_origins": settings.cors_origins,
        "allow_methods": ["*"],
        "allow_headers": ["*"],
    }
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, **cors)
    openai_routes = {getattr(r, "path", "") for r in openai.router.routes}
    app.add_middleware(TracingMiddleware, telemetry=gw.telemetry, routes=openai_routes)
    # NOTE: added last so it is outermost: every response, errors included, carries the id.
    app.add_middleware(RequestIdMiddleware)
    # The proxy routes skip FastAPI's stack but keep these middlewares, in the same order.
    endpoint: ASGIApp = ProxyEndpoint(gw.openai, logger)
    if settings.cors_origins:
        endpoint = CORSMiddleware(endpoint, **cors)
    app.fast_path = RequestIdMiddleware(
        TracingMiddleware(endpoint, telemetry=gw.telemetry, routes=openai_routes)
    )
    return app
