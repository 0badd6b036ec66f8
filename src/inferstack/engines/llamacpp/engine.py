"""The llama.cpp engine: continuous batching on libllama behind the async :class:`Engine` API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from inferstack.engines.base import (
    Delta,
    Engine,
    EngineStats,
    GenerateRequest,
    ModelInfo,
    RenderedChat,
    SamplingParams,
    StructuredOutput,
)
from inferstack.engines.chat_template import ChatTemplate
from inferstack.engines.llamacpp.copying import SpanCopy
from inferstack.engines.llamacpp.model import LlamaModel
from inferstack.engines.llamacpp.sampling import build_sampler
from inferstack.engines.llamacpp.scheduler import Outbox, Scheduler, Sequence
from inferstack.engines.llamacpp.settings import LlamaCppSettings
from inferstack.engines.llamacpp.structured import GrammarVocab, StructuredState
from inferstack.engines.structured import GrammarLimits
from inferstack.errors import ContextLengthError, InvalidRequestError, ServiceUnavailableError

__all__ = ["LlamaCppEngine"]

log = logging.getLogger(__name__)


class LlamaCppEngine(Engine):
    """Serves one GGUF model with many sequences decoded together."""

    def __init__(self, settings: LlamaCppSettings) -> None:
        self.settings = settings
        self.info = ModelInfo(
            id=settings.model_id,
            kind="chat",
            context_length=settings.ctx_size,
            capabilities=["chat", "completions", "tools", "json_schema"],
        )
        self.max_concurrency = settings.parallel
        self._model: LlamaModel | None = None
        self._grammar: GrammarVocab | None = None
        self._scheduler: Scheduler | None = None
        self._template: ChatTemplate | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        model = await asyncio.to_thread(LlamaModel, self.settings)
        self._model = model
        self._grammar = await asyncio.to_thread(
            GrammarVocab,
            model,
            cache_bytes=self.settings.grammar_cache_bytes,
            limits=GrammarLimits(),
        )
        self._template = ChatTemplate(
            model.chat_template(), bos_token=model.bos_token, eos_token=model.eos_token
        )
        self.info.generation_defaults = _generation_defaults(model, self._template.is_fallback)
        self.info.metadata = {
            "n_ctx_train": model.n_ctx_train,
            "n_vocab": model.n_vocab,
            "chat_template": "gguf" if not self._template.is_fallback else "fallback-transcript",
        }
        self._scheduler = Scheduler(
            model,
            batch_size=self.settings.batch_size,
            publish=self._publish,
            grammar=self._grammar,
        )
        self._scheduler.start()
        log.info(
            "llama.cpp engine ready: %s (%d slots x %d tokens)",
            self.info.id,
            self.settings.parallel,
            self.settings.ctx_size,
        )

    async def shutdown(self) -> None:
        """Stop the scheduler (in-flight requests end with a 503 error), then free the model,
        never while a decode may still run."""
        stopped = True
        if self._scheduler is not None:
            stopped = await asyncio.to_thread(self._scheduler.stop)
            self._scheduler = None
        if self._model is not None and stopped:
            self._model.close()
        self._model = None

    def ready(self) -> bool:
        return self._scheduler is not None

    def stats(self) -> EngineStats:
        sched = self._scheduler
        if sched is None or self._model is None:
            return EngineStats()
        return EngineStats(
            running=len(sched.running),
            waiting=sched.pending_count(),
            kv_cache_usage=min(1.0, sched.slots.cached_tokens() / self._model.n_ctx_total),
            prefill_tokens_saved=sched.prefill_saved,
        )

    # -- text ------------------------------------------------------------------------------

    def _require_model(self) -> LlamaModel:
        if self._model is None:
            raise ServiceUnavailableError("the model is not loaded yet")
        return self._model

    def render_chat(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        add_generation_prompt: bool = True,
    ) -> RenderedChat:
        self._require_model()
        assert self._template is not None
        return self._template.render(
            messages, tools=tools, add_generation_prompt=add_generation_prompt
        )

    def tokenize(self, text: str, *, add_special: bool = True) -> list[int]:
        return self._require_model().tokenize(text, add_special=add_special)

    def detokenize(self, token_ids: list[int]) -> str:
        model = self._require_model()
        if any(not 0 <= t < model.n_vocab for t in token_ids):
            raise InvalidRequestError(
                f"token ids must be in 0..{model.n_vocab - 1}", param="tokens"
            )
        return model.detokenize(token_ids)

    # -- generation ------------------------------------------------------------------------

    async def generate(self, request: GenerateRequest) -> AsyncIterator[Delta]:
        model = self._require_model()
        sched = self._scheduler
        assert sched is not None
        seq = self._prepare(model, request)
        deltas: asyncio.Queue[Delta | BaseException] = asyncio.Queue()
        seq.deliver = deltas.put_nowait
        sched.submit(seq)
        try:
            while True:
                item = await deltas.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
                if item.finish_reason is not None:
                    return
        finally:
            if not seq.finished:
                sched.cancel(seq)

    def _prepare(self, model: LlamaModel, request: GenerateRequest) -> Sequence:
        """Tokenize and validate; everything that can be the client's fault fails here."""
        params = request.params
        if isinstance(request.prompt, str):
            prompt = model.tokenize(request.prompt, add_special=request.add_special)
        else:
            prompt = list(request.prompt)
            if any(not 0 <= t < model.n_vocab for t in prompt):
                raise InvalidRequestError(
                    "prompt contains a token id outside the vocabulary", param="prompt"
                )
        if not prompt:
            raise InvalidRequestError("the prompt is empty", param="prompt")
        ctx = self.settings.ctx_size
        if len(prompt) >= ctx:
            raise ContextLengthError(
                f"This model's maximum context length is {ctx} tokens; the prompt has "
                f"{len(prompt)} tokens.",
                param="messages",
            )
        room = ctx - len(prompt)
        if params.max_tokens is not None and params.max_tokens > room:
            raise ContextLengthError(
                f"This model's maximum context length is {ctx} tokens. However, you requested "
                f"{len(prompt) + params.max_tokens} tokens ({len(prompt)} in the prompt, "
                f"{params.max_tokens} for the completion). Reduce the prompt or max_tokens.",
                param="max_tokens",
            )
        structured = self._structured(params, room)
        sampler = build_sampler(params, n_vocab=model.n_vocab, default_seed=self.settings.seed)
        return Sequence(
            structured=structured,
            plain_greedy=_plain_greedy(params),
            request=request,
            prompt=prompt,
            max_new=params.max_tokens or room,
            sampler=sampler,
            stop=list(params.stop),
            deliver=lambda _item: None,
        )

    def check_structured(self, spec: StructuredOutput) -> None:
        """Compile ``spec``'s schema with llguidance (cached): a 400 names what it can't do."""
        if self._grammar is None:
            raise ServiceUnavailableError("the model is not loaded yet")
        self._grammar.compiler.compile(spec.schema, param=spec.param, lazy=spec.lazy)

    def _structured(self, params: SamplingParams, room: int) -> StructuredState | None:
        """Compile the request's schema (a 400 names what it can't support) and check that the
        output budget can hold at least the smallest valid value."""
        spec = params.structured
        if spec is None:
            return None
        vocab = self._grammar
        assert vocab is not None
        grammar = vocab.compiler.compile(spec.schema, param=spec.param, lazy=spec.lazy)
        state = StructuredState(vocab, vocab.matcher(grammar), lazy=spec.lazy)
        bonus = self.settings.copy_bias
        if spec.copy_from and bonus > 0:
            model = vocab.model
            state.copy = SpanCopy(
                spec.copy_from,
                lambda text: model.tokenize(text, add_special=False, parse_special=False),
                start_bonus=bonus,
                follow_bonus=bonus,
            )
        budget = params.max_tokens or room
        if not spec.lazy:
            smallest = state.minimal_closing()
            if smallest is not None and vocab.closing_tokens(smallest, budget) > budget:
                raise InvalidRequestError(
                    f"max_tokens ({budget}) is too small for the smallest value the schema allows",
                    param="max_tokens",
                )
        return state

    def _publish(self, outbox: Outbox) -> None:
        """Called from the scheduler thread: hand a step's deltas to the event loop at once."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(_dispatch, outbox)


def _dispatch(outbox: Outbox) -> None:
    for seq, item in outbox:
        seq.deliver(item)


FALLBACK_MAX_TOKENS = 256
"""Default output budget of a model read through the transcript fallback (see below)."""

_GGUF_SAMPLING = {
    "general.sampling.temp": ("temperature", float),
    "general.sampling.top_p": ("top_p", float),
    "general.sampling.top_k": ("top_k", int),
    "general.sampling.min_p": ("min_p", float),
    "general.sampling.penalty_repeat": ("repetition_penalty", float),
}


def _generation_defaults(model: LlamaModel, fallback: bool) -> dict[str, Any]:
    """Sampling defaults for requests that omit them: the GGUF's own ``general.sampling.*``
    values when it has them; otherwise, for a model without a chat template (a base model
    read through the transcript fallback), greedy decoding — its sampled answers wander
    (measured with ``python -m inferstack.bench.evals.factual``) — and an output budget of
    :data:`FALLBACK_MAX_TOKENS` for requests without ``max_tokens``."""
    defaults: dict[str, Any] = {}
    for key, (name, kind) in _GGUF_SAMPLING.items():
        raw = model.metadata(key)
        if raw is not None:
            try:
                defaults[name] = kind(float(raw))
            except ValueError:
                log.warning("ignoring GGUF %s=%r", key, raw)
    if fallback and "temperature" not in defaults:
        defaults["temperature"] = 0.0
    if fallback:
        # Greedy decoding of a base model can repeat itself to the end of the context; a request
        # that sets no max_tokens gets this budget (as vLLM takes a model's max_new_tokens).
        defaults["max_tokens"] = FALLBACK_MAX_TOKENS
    return defaults


def _plain_greedy(params: SamplingParams) -> bool:
    return (
        params.temperature <= 0
        and not params.logit_bias
        and params.presence_penalty == 0
        and params.frequency_penalty == 0
        and params.repetition_penalty == 1.0
    )
