"""Thin routes: HTTP in, one handler call, HTTP out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from inferstack.errors import NotFoundError, ServiceUnavailableError
from inferstack.protocol import (
    ChatCompletionRequest,
    CompletionRequest,
    DetokenizeRequest,
    EmbeddingRequest,
    TokenizeRequest,
)
from inferstack.serving.http import model_response, read_json
from inferstack.serving.state import ServerState

__all__ = ["router"]

router = APIRouter()


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.inferstack
    return state


@router.post("/v1/chat/completions")
async def chat_completions(request: Request) -> Response:
    state = _state(request)
    body = await read_json(request, ChatCompletionRequest, max_bytes=state.settings.max_body_bytes)
    return await state.chat.create(body, request)


@router.post("/v1/completions")
async def completions(request: Request) -> Response:
    state = _state(request)
    body = await read_json(request, CompletionRequest, max_bytes=state.settings.max_body_bytes)
    return await state.completions.create(body, request)


@router.post("/v1/embeddings")
async def embeddings(request: Request) -> Response:
    state = _state(request)
    body = await read_json(request, EmbeddingRequest, max_bytes=state.settings.max_body_bytes)
    return await state.embeddings.create(body)


@router.post("/tokenize")
async def tokenize(request: Request) -> Response:
    state = _state(request)
    body = await read_json(request, TokenizeRequest, max_bytes=state.settings.max_body_bytes)
    return await state.tokenizer.tokenize(body)


@router.post("/detokenize")
async def detokenize(request: Request) -> Response:
    state = _state(request)
    body = await read_json(request, DetokenizeRequest, max_bytes=state.settings.max_body_bytes)
    return await state.tokenizer.detokenize(body)


@router.get("/v1/models")
async def list_models(request: Request) -> Response:
    return model_response(_state(request).model_list())


@router.get("/v1/models/{model_id:path}")
async def get_model(model_id: str, request: Request) -> Response:
    for model in _state(request).model_list().data:
        if model.id == model_id:
            return model_response(model)
    raise NotFoundError(
        f"The model {model_id!r} does not exist", param="model", code="model_not_found"
    )


@router.get("/health")
async def health() -> Response:
    return JSONResponse({"status": "ok"})


@router.get("/ready")
async def ready(request: Request) -> Response:
    state = _state(request)
    if not state.engine.ready():
        raise ServiceUnavailableError("the model is still loading")
    return JSONResponse({"status": "ready", "model": state.engine.info.id})


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    data = generate_latest(_state(request).metrics.registry)
    return Response(data, media_type=CONTENT_TYPE_LATEST)
