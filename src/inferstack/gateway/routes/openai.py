"""``/v1/*``: the OpenAI-compatible surface, proxied upstream."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from inferstack.gateway.routes.deps import gateway

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["openai"])


@router.post("/chat/completions")
async def chat_completions(request: Request) -> Response:
    return await gateway(request).openai.proxy(request, "/chat/completions")


@router.post("/completions")
async def completions(request: Request) -> Response:
    return await gateway(request).openai.proxy(request, "/completions")


@router.post("/embeddings")
async def embeddings(request: Request) -> Response:
    return await gateway(request).openai.proxy(request, "/embeddings")


@router.get("/models")
async def models(request: Request) -> Response:
    return await gateway(request).openai.models(request)
