"""``/health`` (alive), ``/ready`` (database and upstreams), ``/metrics`` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import JSONResponse, Response

from inferstack.gateway.routes.deps import gateway

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready")
async def ready(request: Request) -> Response:
    gw = gateway(request)
    database = await gw.db.ping()
    groups = {group: len(gw.pool.candidates(group)) for group in gw.pool.groups}
    recorder = gw.recorder
    usage = "dead" if not recorder.alive else "failing" if recorder.failing else "ok"
    ok = database and usage == "ok" and all(count > 0 for count in groups.values())
    body = {
        "status": "ready" if ok else "not ready",
        "database": database,
        "usage_recorder": usage,
        "deployments": groups,
    }
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    gw = gateway(request)
    for dep in gw.pool.all():
        gw.metrics.outstanding.labels(dep.id).set(dep.outstanding)
        gw.metrics.cooling_down.labels(dep.id).set(1 if gw.pool.cooling_down(dep) else 0)
    gw.metrics.usage_pending.set(gw.recorder.pending)
    return Response(gw.metrics.render(), media_type=CONTENT_TYPE_LATEST)
