"""HTTP routes of the RAG service; each only translates HTTP to a :class:`RagService` call.

::

    POST /v1/rag/query       grounded answer with citations (``stream: true`` → SSE)
    POST /v1/rag/retrieve    the best chunks, no model call
    POST /v1/rag/documents   ingest documents given inline (and remove ids)
    GET  /v1/rag/stats       documents, chunks and vectors held

A stream's shape is decided by its first event: an error before it (bad filter, embedding
server down) is a JSON error with its real status; after it, an SSE ``error`` event; every
stream ends with ``data: [DONE]``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from inferstack.errors import InferstackError, error_sse
from inferstack.rag.api import IngestRequest, QueryRequest, RetrieveRequest
from inferstack.rag.service import RagService

__all__ = ["build_router"]


def _service(request: Request) -> RagService:
    service: RagService = request.app.state.rag
    return service


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1/rag")

    @router.post("/query")
    async def query(body: QueryRequest, request: Request) -> Response:
        service = _service(request)
        if not body.stream:
            return JSONResponse(await service.query(body))
        events = service.stream(body)
        first = await events.__anext__()  # errors before this are plain JSON errors
        return StreamingResponse(_sse(first, events), media_type="text/event-stream")

    @router.post("/retrieve")
    async def retrieve(body: RetrieveRequest, request: Request) -> Response:
        return JSONResponse(await _service(request).retrieve(body))

    @router.post("/documents")
    async def documents(body: IngestRequest, request: Request) -> Response:
        return JSONResponse(await _service(request).ingest(body))

    @router.get("/stats")
    async def stats(request: Request) -> Response:
        return JSONResponse(await _service(request).stats())

    return router


async def _sse(first: dict[str, Any], rest: AsyncIterator[dict[str, Any]]) -> AsyncIterator[str]:
    yield f"data: {json.dumps(first)}\n\n"
    try:
        async for event in rest:
            yield f"data: {json.dumps(event)}\n\n"
    except InferstackError as exc:
        yield error_sse(exc)
    yield "data: [DONE]\n\n"
