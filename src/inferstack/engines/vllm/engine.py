"""The vLLM engine: vLLM's ``AsyncLLM`` (continuous batching, prefix caching) behind the
async :class:`Engine` API. Importing this module imports vLLM; the registry does so only when
the ``vllm`` engine is chosen."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from vllm import SamplingParams as VllmSamplingParams
from vllm.engine.arg_utils import AsyncEngineArgs
from vllm.inputs import TokensPrompt
from vllm.sampling_params import RequestOutputKind, StructuredOutputsParams
from vllm.v1.engine.async_llm import AsyncLLM
from vllm.v1.engine.exceptions import EngineDeadError
from vllm.v1.metrics.loggers import StatLoggerBase

from inferstack.engines.base import (
    Delta,
    Engine,
    EngineStats,
    FinishReason,
    GenerateRequest,
    ModelInfo,
    RenderedChat,
    StructuredOutput,
    Timings,
    Usage,
)
from inferstack.engines.chat_template import ChatTemplate
from inferstack.engines.vllm.budget import JsonBudget
from inferstack.engines.vllm.settings import VllmSettings
from inferstack.engines.vllm.translate import sampling_kwargs, structured_kwargs
from inferstack.errors import ContextLengthError, InvalidRequestError, ServiceUnavailableError

__all__ = ["VllmEngine"]

log = logging.getLogger(__name__)

_FINISH: dict[str | None, FinishReason] = {"stop": "stop", "length": "length"}


class _Stats:
    """KV usage and prefix-cache hits from vLLM's stat-logger hook (updated on engine steps);
    running and waiting requests are counted by the engine itself, so they drop at once when
    a request ends or is cancelled, even if vLLM takes no further step."""

    def __init__(self) -> None:
        self.kv_cache_usage = 0.0
        self.prefix_hits = 0
        self.started: dict[str, bool] = {}
        """In-flight request id → whether it produced its first token yet."""


def _stat_logger(sink: _Stats) -> Any:
    class _Recorder(StatLoggerBase):
        def __init__(self, vllm_config: Any, engine_index: int = 0) -> None:
            self.sink = sink

        def record(
            self,
            scheduler_stats: Any,
            iteration_stats: Any,
            mm_cache_stats: Any = None,
            engine_idx: int = 0,
        ) -> None:
            if scheduler_stats is not None:
                self.sink.kv_cache_usage = scheduler_stats.kv_cache_usage
                self.sink.prefix_hits += scheduler_stats.prefix_cache_stats.hits

        def log_engine_initialized(self) -> None:
            pass

    return _Recorder


class VllmEngine(Engine):
    """Serves one Hugging Face model folder with vLLM."""

    def __init__(self, settings: VllmSettings) -> None:
        self.settings = settings
        self.info = ModelInfo(
            id=settings.model_id, kind="chat", context_length=settings.max_model_len or 0
        )
        self.max_concurrency = settings.max_num_seqs
        self._llm: AsyncLLM | None = None
        self._tokenizer: Any = None
        self._template: ChatTemplate | None = None
        self._stats = _Stats()
        self._max_len = settings.max_model_len or 0

    async def start(self) -> None:
        s = self.settings
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(s.cpu_kv_cache_gib))
        args = AsyncEngineArgs(
            model=s.model_path,
            served_model_name=s.model_id,
            max_model_len=s.max_model_len,
            max_num_seqs=s.max_num_seqs,
            gpu_memory_utilization=s.gpu_memory_utilization,
            tensor_parallel_size=s.tensor_parallel_size,
            dtype=s.dtype,
            enforce_eager=s.enforce_eager,
            enable_prefix_caching=s.enable_prefix_caching,
            seed=s.seed if s.seed is not None else 0,
            structured_outputs_config={"backend": "guidance", "disable_any_whitespace": True},
            disable_log_stats=False,
        )
        llm = await asyncio.to_thread(
            AsyncLLM.from_engine_args, args, stat_loggers=[_stat_logger(self._stats)]
        )
        self._llm = llm
        self._tokenizer = llm.get_tokenizer()
        self._max_len = llm.model_config.max_model_len
        self.info.context_length = self._max_len
        tok = self._tokenizer
        self._template = ChatTemplate(
            getattr(tok, "chat_template", None),
            bos_token=tok.bos_token or "",
            eos_token=tok.eos_token or "",
        )
        self.info.metadata = {
            "engine": "vllm",
            "chat_template": "tokenizer"
            if not self._template.is_fallback
            else "fallback-transcript",
        }
        log.info("vLLM engine ready: %s (%d tokens)", self.info.id, self._max_len)

    async def shutdown(self) -> None:
        llm, self._llm = self._llm, None
        if llm is not None:
            await asyncio.to_thread(llm.shutdown)

    def ready(self) -> bool:
        return self._llm is not None and not self._llm.errored

    def stats(self) -> EngineStats:
        s = self._stats
        running = sum(s.started.values())
        return EngineStats(
            running=running,
            waiting=len(s.started) - running,
            kv_cache_usage=min(1.0, max(0.0, s.kv_cache_usage)),
            prefill_tokens_saved=s.prefix_hits,
        )

    # -- text ------------------------------------------------------------------------------

    def _require(self) -> AsyncLLM:
        if self._llm is None:
            raise ServiceUnavailableError("the model is not loaded yet")
        if self._llm.errored:
            raise ServiceUnavailableError("the vLLM engine has stopped")
        return self._llm

    def check_structured(self, spec: StructuredOutput) -> None:
        """The schema compiles under the same llguidance rules as vLLM's own backend."""
        structured_kwargs(spec)

    def render_chat(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        add_generation_prompt: bool = True,
    ) -> RenderedChat:
        self._require()
        assert self._template is not None
        return self._template.render(
            messages, tools=tools, add_generation_prompt=add_generation_prompt
        )

    def tokenize(self, text: str, *, add_special: bool = True) -> list[int]:
        self._require()
        return list(self._tokenizer.encode(text, add_special_tokens=add_special))

    def detokenize(self, token_ids: list[int]) -> str:
        self._require()
        return str(self._tokenizer.decode(token_ids, skip_special_tokens=True))

    def _count(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False))

    # -- generation ------------------------------------------------------------------------

    def _prompt(self, request: GenerateRequest) -> list[int]:
        if isinstance(request.prompt, str):
            prompt = self.tokenize(request.prompt, add_special=request.add_special)
        else:
            prompt = list(request.prompt)
            vocab = len(self._tokenizer)
            if any(not 0 <= t < vocab for t in prompt):
                raise InvalidRequestError(
                    "prompt contains a token id outside the vocabulary", param="prompt"
                )
        if not prompt:
            raise InvalidRequestError("the prompt is empty", param="prompt")
        if len(prompt) >= self._max_len:
            raise ContextLengthError(
                f"This model's maximum context length is {self._max_len} tokens; the prompt "
                f"has {len(prompt)} tokens.",
                param="messages",
            )
        return prompt

    def _prepare(
        self, request: GenerateRequest
    ) -> tuple[list[int], VllmSamplingParams, JsonBudget | None, int]:
        """Tokenize and validate: everything that can be the client's fault fails here."""
        params = request.params
        prompt = self._prompt(request)
        room = self._max_len - len(prompt)
        if params.max_tokens is not None and params.max_tokens > room:
            raise ContextLengthError(
                f"This model's maximum context length is {self._max_len} tokens. However, you "
                f"requested {len(prompt) + params.max_tokens} tokens ({len(prompt)} in the "
                f"prompt, {params.max_tokens} for the completion). Reduce the prompt or "
                "max_tokens.",
                param="max_tokens",
            )
        budget = params.max_tokens or room
        kwargs = sampling_kwargs(params, max_tokens=budget, default_seed=self.settings.seed)
        tracker: JsonBudget | None = None
        spec = params.structured
        if spec is not None:
            kwargs["structured_outputs"] = StructuredOutputsParams(**structured_kwargs(spec))
            tracker = JsonBudget(
                spec.schema, budget=budget, count_tokens=self._count, param=spec.param
            )
            if not spec.lazy and tracker.smallest_value_tokens() > budget:
                raise InvalidRequestError(
                    f"max_tokens ({budget}) is too small for the smallest value the schema allows",
                    param="max_tokens",
                )
        try:
            sampling = VllmSamplingParams(output_kind=RequestOutputKind.DELTA, **kwargs)
        except ValueError as exc:  # vLLM's own validation of the parameters
            raise InvalidRequestError(str(exc), param="params") from exc
        return prompt, sampling, tracker, budget

    async def generate(self, request: GenerateRequest) -> AsyncIterator[Delta]:
        llm = self._require()
        prompt, sampling, tracker, _ = self._prepare(request)
        lazy = request.params.structured is not None and request.params.structured.lazy
        timings = Timings(queued_ns=time.time_ns())
        rid = f"{request.request_id}-{uuid.uuid4().hex[:8]}"
        stream = llm.generate(TokensPrompt(prompt_token_ids=prompt), sampling, rid)
        produced = 0
        self._stats.started[rid] = False
        mode: str | None = None if lazy else ("json" if tracker is not None else "text")
        done = False
        try:
            async for out in stream:
                piece = out.outputs[0]
                ids = list(piece.token_ids)
                produced += len(ids)
                if timings.first_token_ns is None and ids:
                    timings.admitted_ns = timings.first_token_ns = time.time_ns()
                    self._stats.started[rid] = True
                text = piece.text
                if mode is None and text.strip():  # lazy: the first visible character decides
                    stripped = text.lstrip()
                    mode = "json" if stripped[0] in "{[" else "text"
                    if mode == "json":
                        assert tracker is not None
                        text = text[: len(text) - len(stripped)] + tracker.feed(stripped, len(ids))
                elif mode == "json":
                    assert tracker is not None
                    text = tracker.feed(text, len(ids))
                if not out.finished:
                    if text or ids:
                        yield Delta(text=text, token_ids=ids)
                    continue
                done = True
                finish = _FINISH.get(piece.finish_reason, "stop")
                completion = produced
                if mode == "json":
                    assert tracker is not None
                    rest, completion = tracker.finish(cut=finish == "length")
                    text += rest
                timings.finished_ns = time.time_ns()
                yield Delta(
                    text=text,
                    token_ids=ids,
                    finish_reason=finish,
                    usage=Usage(
                        prompt_tokens=len(prompt),
                        completion_tokens=completion,
                        cached_tokens=out.num_cached_tokens or 0,
                    ),
                    timings=timings,
                )
                return
        except EngineDeadError as exc:
            raise ServiceUnavailableError("the vLLM engine has stopped") from exc
        finally:
            self._stats.started.pop(rid, None)
            with contextlib.suppress(RuntimeError):
                await stream.aclose()
            if not done:
                await llm.abort(rid)
