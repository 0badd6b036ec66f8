"""Routes of the agent REST service: POST /query, POST /runs/{id}/resume, GET /health, /status,
/metrics (Prometheus)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field

from inferstack.agents.metrics import AgentMetrics
from inferstack.agents.services.handler import AgentService, QueryReply
from inferstack.agents.services.http import read_json, sse_response
from inferstack.agents.supervisor import SupervisorMode
from inferstack.errors import InferstackError, error_sse

__all__ = ["QueryRequest", "ResumeRequest", "router"]

router = APIRouter()


class QueryRequest(BaseModel):
    question: str = Field(min_length=1, max_length=8000)
    session_id: str | None = Field(default=None, min_length=1, max_length=128)
    stream: bool = False
    mode: SupervisorMode = Field(
        default="auto",
        description="auto: the supervisor decides; knowledge: answer from the knowledge base; "
        "tools: straight to the tool agent",
    )


class ResumeRequest(BaseModel):
    approvals: dict[str, bool] = Field(description="tool call id → approved")
    stream: bool = False


def _service(request: Request) -> AgentService:
    return request.app.state.agent_service  # type: ignore[no-any-return]


async def _sse(first: Any, events: AsyncIterator[BaseModel]) -> AsyncIterator[str]:
    yield f"data: {first.model_dump_json()}\n\n"
    try:
        async for event in events:
            yield f"data: {event.model_dump_json()}\n\n"
    except InferstackError as exc:
        yield error_sse(exc)
    yield "data: [DONE]\n\n"


async def _respond(events: AsyncIterator[BaseModel], stream: bool) -> Response:
    # The first event decides the shape: an error before it is a JSON error with its status.
    iterator = aiter(events)
    first = await anext(iterator)
    if stream:
        return sse_response(_sse(first, iterator))
    last = first
    async for event in iterator:
        last = event
    return JSONResponse(json.loads(last.model_dump_json()))


@router.post("/query", response_model=QueryReply)
async def query(request: Request) -> Response:
    service = _service(request)
    body = await read_json(request, QueryRequest, max_bytes=service.settings.max_body_bytes)
    return await _respond(service.query(body.question, body.session_id, body.mode), body.stream)


@router.post("/runs/{run_id}/resume", response_model=QueryReply)
async def resume(run_id: str, request: Request) -> Response:
    service = _service(request)
    body = await read_json(request, ResumeRequest, max_bytes=service.settings.max_body_bytes)
    return await _respond(service.resume(run_id, body.approvals), body.stream)


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    ok = await _service(request).healthy()
    return JSONResponse({"status": "ok" if ok else "unavailable"}, status_code=200 if ok else 503)


@router.get("/status")
async def status(request: Request) -> JSONResponse:
    return JSONResponse(await _service(request).status())


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    registry: AgentMetrics = request.app.state.metrics
    return Response(registry.render(), media_type=CONTENT_TYPE_LATEST)
