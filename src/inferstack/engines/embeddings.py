"""The embedding engine: sentence embeddings from an ONNX sentence-transformer or a GGUF model.

Requests are tokenized, checked against the model's input limit (too long is an error, never a
silent truncation, as with OpenAI), sorted by length and cut into batches of at most
``batch_size`` inputs and ``max_batch_tokens`` padded tokens. Every model call runs on one
dedicated worker thread: concurrent requests queue there batch by batch, so they interleave
fairly and never run two forward passes at once on a small machine, and the event loop never
blocks. The model's own thread count is ``threads``.

Backends (:class:`EmbeddingBackend`) are picked by the resolved model's kind from a mapping
that callers may replace; the ONNX backend lives here, the GGUF one in
:mod:`inferstack.engines.embeddings_gguf`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, Protocol, TypeVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from inferstack.config import Settings
from inferstack.engines.base import Embeddings, Engine, EngineStats, ModelInfo
from inferstack.errors import ContextLengthError, InvalidRequestError, ServiceUnavailableError
from inferstack.models.sources import ResolvedModel, resolve_model

__all__ = [
    "BackendFactory",
    "EmbeddingBackend",
    "EmbeddingEngine",
    "EmbeddingSettings",
    "TokenizedInput",
    "create_engine",
    "default_backends",
]

T = TypeVar("T")


class EmbeddingSettings(Settings):
    """Settings of an embedding model server (environment prefix ``INFERSTACK_EMBEDDING_``)."""

    model_config = SettingsConfigDict(env_prefix="INFERSTACK_EMBEDDING_", extra="forbid")

    model: str = Field(
        default="default-embedding",
        description="Model spec: 'default-embedding', a local .gguf/.onnx file or ONNX folder, "
        "or hf://org/repo/file.gguf[@revision].",
    )
    model_id: str | None = Field(
        default=None, description="Id the model is served under; defaults to the source's name."
    )
    batch_size: int = Field(default=32, ge=1, description="Most inputs in one forward pass.")
    max_batch_tokens: int = Field(
        default=4096,
        ge=8,
        description="Most (padded) tokens in one forward pass; for GGUF models also the "
        "context size. Caps the input length.",
    )
    max_input_tokens: int | None = Field(
        default=None,
        ge=1,
        description="Longest accepted input in tokens; longer inputs are refused with "
        "context_length_exceeded. Default: the model's own limit (256 for the default model).",
    )
    threads: int = Field(
        default=1,
        ge=1,
        description="Threads inside one forward pass (onnxruntime intra-op, llama.cpp).",
    )
    pooling: Literal["mean", "cls", "last"] | None = Field(
        default=None,
        description="Pooling for GGUF models; default: the file's pooling_type, else mean.",
    )
    normalize: bool = Field(default=True, description="L2-normalise the vectors (OpenAI's are).")


TokenizedInput = tuple[list[int], int]
"""Token ids (possibly truncated to the limit) and the input's real token count."""


class EmbeddingBackend(Protocol):
    """A loaded model that turns token ids into pooled vectors. Not thread-safe: the engine
    calls it from one worker thread only."""

    dimensions: int
    model_max_tokens: int
    """The longest input the model itself can take."""
    vocab_size: int

    def tokenize(
        self, texts: list[str], max_tokens: int | None, *, add_special: bool = True
    ) -> list[TokenizedInput]:
        """Token ids of each text (with the model's special tokens unless ``add_special`` is
        false), cut at ``max_tokens``, with the real count so that the caller can refuse what
        was cut. ``max_tokens=None`` cuts nothing; that call may come from another thread."""
        ...

    def embed_batch(self, batch: list[list[int]]) -> list[list[float]]:
        """One vector per input, pooled (and normalised if configured)."""
        ...

    def close(self) -> None: ...


BackendFactory = Callable[[ResolvedModel, EmbeddingSettings], EmbeddingBackend]


def _onnx_factory(model: ResolvedModel, settings: EmbeddingSettings) -> EmbeddingBackend:
    from inferstack.engines.embeddings_onnx import OnnxEmbeddingBackend

    return OnnxEmbeddingBackend(model, settings)


def _gguf_factory(model: ResolvedModel, settings: EmbeddingSettings) -> EmbeddingBackend:
    from inferstack.engines.embeddings_gguf import GGUFEmbeddingBackend

    return GGUFEmbeddingBackend(model, settings)


def default_backends() -> dict[str, BackendFactory]:
    """Backend factories by resolved model kind (``onnx``, ``gguf``)."""
    return {"onnx": _onnx_factory, "gguf": _gguf_factory}


class EmbeddingEngine(Engine):
    """An :class:`Engine` that embeds; see the module docstring for how work is scheduled."""

    def __init__(
        self,
        settings: EmbeddingSettings | None = None,
        *,
        backends: Mapping[str, BackendFactory] | None = None,
    ) -> None:
        self.settings = settings or EmbeddingSettings()
        self._backends = dict(backends or default_backends())
        self._backend: EmbeddingBackend | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._max_tokens = 0
        self._running = 0
        self._waiting = 0
        self._counters = threading.Lock()
        self.info = ModelInfo(
            id=self.settings.model_id or self.settings.model,
            kind="embedding",
            context_length=0,
            capabilities=["embeddings"],
        )

    async def start(self) -> None:
        """Resolve and load the model on the worker thread, then run one warm-up pass."""
        resolved = await asyncio.to_thread(resolve_model, self.settings.model, progress=False)
        factory = self._backends.get(resolved.kind)
        if factory is None:
            raise InvalidRequestError(
                f"no embedding backend for {resolved.kind} models ({self.settings.model!r})",
                param="model",
            )
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="embedding-worker")
        try:
            backend = await self._call(factory, resolved, self.settings)
            limits = [backend.model_max_tokens, self.settings.max_batch_tokens]
            limits += [v for v in (self.settings.max_input_tokens, resolved.max_input_tokens) if v]
            self._max_tokens = min(limits)
            self._backend = backend
            self.info = ModelInfo(
                id=self.settings.model_id or resolved.name,
                kind="embedding",
                context_length=self._max_tokens,
                dimensions=backend.dimensions,
                capabilities=["embeddings"],
                metadata={
                    "source": resolved.source,
                    "path": str(resolved.path),
                    "format": resolved.kind,
                },
            )
            await self.embed(["warm-up"])
        except BaseException:
            await self.shutdown()
            raise

    async def shutdown(self) -> None:
        backend, executor = self._backend, self._executor
        self._backend = None
        if executor is not None:
            if backend is not None:
                await asyncio.wrap_future(executor.submit(backend.close))
            executor.shutdown(wait=True)
        self._executor = None

    def ready(self) -> bool:
        return self._backend is not None

    def stats(self) -> EngineStats:
        return EngineStats(running=self._running, waiting=self._waiting)

    @property
    def max_input_tokens(self) -> int:
        """The longest accepted input, in tokens (also ``info.context_length``)."""
        return self._max_tokens

    def tokenize(self, text: str, *, add_special: bool = True) -> list[int]:
        """All the token ids of ``text``, however long (for counting; embedding checks limits)."""
        backend = self._require_backend()
        ids, _ = backend.tokenize([text], None, add_special=add_special)[0]
        return ids

    async def embed(self, inputs: Sequence[str] | Sequence[list[int]]) -> Embeddings:
        """Embed texts or token-id arrays; vectors come back in input order."""
        backend = self._require_backend()
        items = list(inputs)
        if not items:
            raise InvalidRequestError("input must not be empty", param="input")
        texts = [(i, x) for i, x in enumerate(items) if isinstance(x, str)]
        tokens: list[list[int]] = [[] for _ in items]
        if texts:
            encoded = await self._call(backend.tokenize, [t for _, t in texts], self._max_tokens)
            for (i, _), (ids, count) in zip(texts, encoded, strict=True):
                self._check_length(i, count)
                tokens[i] = ids
        for i, item in enumerate(items):
            if not isinstance(item, str):
                tokens[i] = self._check_ids(i, item, backend.vocab_size)
        vectors: list[list[float]] = [[] for _ in items]
        for batch in self._plan(tokens):
            out = await self._call(backend.embed_batch, [tokens[i] for i in batch])
            for i, vector in zip(batch, out, strict=True):
                vectors[i] = vector
        return Embeddings(vectors=vectors, prompt_tokens=sum(len(t) for t in tokens))

    def _require_backend(self) -> EmbeddingBackend:
        if self._backend is None:
            raise ServiceUnavailableError("the embedding model is not loaded", code="not_ready")
        return self._backend

    def _check_length(self, index: int, count: int) -> None:
        if count > self._max_tokens:
            raise ContextLengthError(
                f"input[{index}] has {count} tokens, more than this model's maximum input "
                f"length of {self._max_tokens} tokens; shorten or split the input",
                param="input",
            )

    def _check_ids(self, index: int, ids: object, vocab_size: int) -> list[int]:
        if not isinstance(ids, list) or not ids:
            raise InvalidRequestError(
                f"input[{index}] must be a non-empty string or list of token ids", param="input"
            )
        if not all(isinstance(t, int) and not isinstance(t, bool) for t in ids):
            raise InvalidRequestError(f"input[{index}] holds a non-integer token", param="input")
        if min(ids) < 0 or max(ids) >= vocab_size:
            raise InvalidRequestError(
                f"input[{index}] holds a token id outside the vocabulary [0, {vocab_size})",
                param="input",
            )
        self._check_length(index, len(ids))
        return list(ids)

    def _plan(self, tokens: list[list[int]]) -> list[list[int]]:
        """Indices grouped into batches: sorted by length so that padding stays small."""
        order = sorted(range(len(tokens)), key=lambda i: len(tokens[i]))
        batches: list[list[int]] = []
        current: list[int] = []
        for i in order:
            longest = len(tokens[i])  # ascending: the newest is the longest
            if current and (
                len(current) >= self.settings.batch_size
                or longest * (len(current) + 1) > self.settings.max_batch_tokens
            ):
                batches.append(current)
                current = []
            current.append(i)
        if current:
            batches.append(current)
        return batches

    async def _call(self, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn`` on the worker thread; the running/waiting counters feed :meth:`stats`."""
        if self._executor is None:
            raise ServiceUnavailableError("the embedding engine is not started", code="not_ready")
        self._count(waiting=+1)

        def job() -> T:
            self._count(waiting=-1, running=+1)
            try:
                return fn(*args)
            finally:
                self._count(running=-1)

        future = self._executor.submit(job)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if future.cancel():  # never started: it no longer waits
                self._count(waiting=-1)
            raise

    def _count(self, *, waiting: int = 0, running: int = 0) -> None:
        with self._counters:
            self._waiting += waiting
            self._running += running


def create_engine(model: ResolvedModel, **options: Any) -> EmbeddingEngine:
    """The registry's factory: ``options`` are :class:`EmbeddingSettings` fields."""
    options.setdefault("model_id", model.name)
    return EmbeddingEngine(EmbeddingSettings.from_sources(model=model.source, **options))
