"""POST /v1/embeddings."""

from __future__ import annotations

import time

from fastapi.responses import Response

from inferstack.errors import InvalidRequestError
from inferstack.protocol import (
    EmbeddingData,
    EmbeddingRequest,
    EmbeddingResponse,
    EmbeddingUsage,
    encode_embedding,
)
from inferstack.serving.handlers.generation import GenerationService
from inferstack.serving.http import model_response

__all__ = ["EmbeddingsHandler"]


class EmbeddingsHandler:
    def __init__(self, service: GenerationService) -> None:
        self.service = service

    async def create(self, body: EmbeddingRequest) -> Response:
        service = self.service
        model = service.check_model(body.model)
        width = service.engine.info.dimensions
        if body.dimensions is not None and body.dimensions != width:
            raise InvalidRequestError(
                f"this model has {width} dimensions and cannot shorten them", param="dimensions"
            )
        started = time.monotonic()
        with service.admission.slot():
            result = await service.engine.embed(body.input_batch())
        service.metrics.e2e.labels(service.metrics.model, "embeddings").observe(
            time.monotonic() - started
        )
        service.metrics.prompt_tokens.labels(service.metrics.model).inc(result.prompt_tokens)
        data = [
            EmbeddingData(index=i, embedding=encode_embedding(v, body.encoding_format))
            for i, v in enumerate(result.vectors)
        ]
        usage = EmbeddingUsage(
            prompt_tokens=result.prompt_tokens, total_tokens=result.prompt_tokens
        )
        return model_response(EmbeddingResponse(data=data, model=model, usage=usage))
