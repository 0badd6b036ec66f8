"""POST /tokenize and POST /detokenize: the model's tokenizer over HTTP."""

from __future__ import annotations

from fastapi.responses import Response

from inferstack.protocol import (
    DetokenizeRequest,
    DetokenizeResponse,
    TokenizeRequest,
    TokenizeResponse,
)
from inferstack.serving.handlers.generation import GenerationService
from inferstack.serving.http import model_response

__all__ = ["TokenizeHandler"]


class TokenizeHandler:
    def __init__(self, service: GenerationService) -> None:
        self.service = service

    async def tokenize(self, body: TokenizeRequest) -> Response:
        engine = self.service.engine
        if body.model is not None:
            self.service.check_model(body.model)
        if body.messages is not None:
            messages = [m.model_dump(exclude_none=True) for m in body.messages]
            rendered = engine.render_chat(
                messages, add_generation_prompt=body.add_generation_prompt
            )
            tokens = engine.tokenize(rendered.prompt, add_special=rendered.add_special)
        else:
            assert body.prompt is not None
            tokens = engine.tokenize(body.prompt, add_special=body.add_special_tokens)
        return model_response(
            TokenizeResponse(
                count=len(tokens), max_model_len=engine.info.context_length, tokens=tokens
            )
        )

    async def detokenize(self, body: DetokenizeRequest) -> Response:
        if body.model is not None:
            self.service.check_model(body.model)
        return model_response(
            DetokenizeResponse(prompt=self.service.engine.detokenize(body.tokens))
        )
