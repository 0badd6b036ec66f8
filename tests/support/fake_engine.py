"""An in-memory engine double for the serving unit tests (the e2e tests use the real model)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from inferstack.engines.base import (
    Delta,
    Embeddings,
    Engine,
    EngineStats,
    GenerateRequest,
    ModelInfo,
    RenderedChat,
    TokenLogprob,
    Usage,
)
from inferstack.errors import ContextLengthError, EngineError, InvalidRequestError

__all__ = ["FakeEngine"]


class FakeEngine(Engine):
    """Echoes the prompt's words back one per delta; can be told to fail or to block."""

    def __init__(self, *, concurrency: int = 2, context: int = 64) -> None:
        self.info = ModelInfo(id="fake", kind="chat", context_length=context, dimensions=3)
        self.max_concurrency = concurrency
        self.fail_after: int | None = None
        self.gate: asyncio.Event | None = None
        self.cancelled: list[str] = []

    async def start(self) -> None: ...

    async def shutdown(self) -> None: ...

    def stats(self) -> EngineStats:
        return EngineStats(running=1, waiting=0, kv_cache_usage=0.25)

    def render_chat(self, messages: list[dict[str, Any]], **_: Any) -> RenderedChat:
        # Like the real transcript template: earlier calls' arguments are parsed as JSON.
        for message in messages:
            for call in message.get("tool_calls") or []:
                with contextlib.suppress(json.JSONDecodeError):
                    json.loads(call["function"]["arguments"])
        return RenderedChat(prompt=" ".join(str(m.get("content")) for m in messages))

    async def generate(self, request: GenerateRequest) -> AsyncIterator[Delta]:
        if isinstance(request.prompt, str):
            request.prompt.encode()  # like a real tokenizer: the text must be UTF-8
            words = request.prompt.split()
        else:  # token ids, checked like a real vocabulary
            if any(not 0 <= t < 0xD800 for t in request.prompt):
                raise InvalidRequestError("token id outside the vocabulary", param="prompt")
            words = [str(t) for t in request.prompt]
        if not words:
            raise InvalidRequestError("the prompt is empty", param="prompt")
        if len(words) > self.info.context_length:
            raise ContextLengthError("too long", param="messages")
        budget = request.params.max_tokens or len(words)
        try:
            for i, word in enumerate(words[:budget]):
                if self.gate is not None:
                    await self.gate.wait()
                if self.fail_after is not None and i >= self.fail_after:
                    raise EngineError("boom")
                yield Delta(text=word + " ", logprobs=_logprobs(word + " ", request))
            reason = "length" if budget < len(words) else "stop"
            yield Delta(finish_reason=reason, usage=Usage(len(words), min(budget, len(words))))
        except asyncio.CancelledError:
            self.cancelled.append(request.request_id)
            raise

    def tokenize(self, text: str, *, add_special: bool = True) -> list[int]:
        """One token per character (its code point), plus 1 as BOS."""
        text.encode()  # like a real tokenizer: the text must be UTF-8
        return [1] * add_special + [ord(c) for c in text]

    def detokenize(self, token_ids: list[int]) -> str:
        if any(not 0 <= t < 0xD800 for t in token_ids):
            raise InvalidRequestError("token ids must be in 0..55295", param="tokens")
        return "".join(chr(t) for t in token_ids)

    async def embed(self, inputs: Sequence[str] | Sequence[list[int]]) -> Embeddings:
        return Embeddings(vectors=[[1.0, 0.0, 0.0] for _ in inputs], prompt_tokens=len(inputs))


def _logprobs(text: str, request: GenerateRequest) -> list[TokenLogprob]:
    """Made-up but well-formed log probabilities, when the request asks for them."""
    top = request.params.logprobs
    if top is None:
        return []
    piece = text.encode()
    alternatives = [(i, f"alt{i}".encode(), -1.0 - i) for i in range(top)]
    return [TokenLogprob(len(text), piece, -0.5, alternatives)]
