"""GGUF backend of the embedding engine, on llama-cpp-python's low-level API.

One ``llama_context`` with ``embeddings=True`` and a pooling type (the file's
``{arch}.pooling_type``, the ``pooling`` setting, else mean) sized to ``max_batch_tokens``: a
batch packs every input as its own sequence (``seq_id`` = row) into one ``llama_batch``, decodes
once and reads each pooled vector with ``llama_get_embeddings_seq``; the memory is cleared
before the next batch. The KV cache is unified, so one long input may use the whole context.

Any GGUF runs this way, a causal LM included (the default Gemma serves as a smoke test with
mean pooling); a dedicated embedding model gives meaningful vectors.
"""

from __future__ import annotations

import ctypes
import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from inferstack.errors import EngineError, InvalidRequestError
from inferstack.models.gguf import read_gguf_metadata

if TYPE_CHECKING:
    from inferstack.engines.embeddings import EmbeddingSettings, TokenizedInput
    from inferstack.models.sources import ResolvedModel

__all__ = ["GGUFEmbeddingBackend"]

logger = logging.getLogger(__name__)


class GGUFEmbeddingBackend:
    """A GGUF model run for pooled embeddings; see the module docstring. One thread at a time."""

    def __init__(self, model: ResolvedModel, settings: EmbeddingSettings) -> None:
        import llama_cpp as lc

        self._lc = lc
        meta = read_gguf_metadata(model.path, max_array_length=0)
        declared = meta.pooling_type
        pooling: str
        if settings.pooling is not None:
            pooling = settings.pooling
        elif declared in ("mean", "cls", "last"):
            pooling = declared
        elif declared == "rank":
            raise InvalidRequestError(
                f"{model.source!r} is a reranking model, not an embedding model", param="model"
            )
        else:
            pooling = "mean"
        self.pooling = pooling
        self._normalize = settings.normalize

        lc.llama_backend_init()
        self._model = lc.llama_model_load_from_file(
            str(model.path).encode(), lc.llama_model_default_params()
        )
        if not self._model:
            raise EngineError(f"llama.cpp could not load {model.path}")
        self._ctx: Any = None
        self._batch: Any = None
        try:
            self._open_context(settings, pooling)
        except BaseException:
            self.close()
            raise

    def _open_context(self, settings: EmbeddingSettings, pooling: str) -> None:
        lc = self._lc
        self._vocab = lc.llama_model_get_vocab(self._model)
        self.vocab_size = int(lc.llama_vocab_n_tokens(self._vocab))
        self.dimensions = int(lc.llama_model_n_embd(self._model))
        n_ctx = min(int(lc.llama_model_n_ctx_train(self._model)), settings.max_batch_tokens)
        self.model_max_tokens = n_ctx
        params = lc.llama_context_default_params()
        params.n_ctx = n_ctx
        # NOTE: non-causal models (BERT) need a whole sequence in one micro-batch.
        params.n_batch = params.n_ubatch = n_ctx
        params.n_seq_max = settings.batch_size
        params.kv_unified = True
        params.n_threads = params.n_threads_batch = settings.threads
        params.embeddings = True
        params.pooling_type = {
            "mean": lc.LLAMA_POOLING_TYPE_MEAN,
            "cls": lc.LLAMA_POOLING_TYPE_CLS,
            "last": lc.LLAMA_POOLING_TYPE_LAST,
        }[pooling]
        self._ctx = lc.llama_init_from_model(self._model, params)
        if not self._ctx:
            raise EngineError("llama.cpp could not create an embedding context")
        self._batch = lc.llama_batch_init(n_ctx, 0, 1)
        encoder_only = lc.llama_model_has_encoder(self._model) and not lc.llama_model_has_decoder(
            self._model
        )
        self._run = lc.llama_encode if encoder_only else lc.llama_decode

    def tokenize(
        self, texts: list[str], max_tokens: int | None, *, add_special: bool = True
    ) -> list[TokenizedInput]:
        result: list[TokenizedInput] = []
        for text in texts:
            data = text.encode("utf-8")
            # llama_tokenize returns minus the real count when the buffer is too small
            capacity = (max_tokens if max_tokens is not None else len(data)) + 1
            ids, n = self._tokenize_into(data, capacity, add_special)
            if n < 0 and max_tokens is None:
                ids, n = self._tokenize_into(data, -n, add_special)
            result.append((ids, n) if n >= 0 else ([], -n))
        return result

    def _tokenize_into(
        self, data: bytes, capacity: int, add_special: bool
    ) -> tuple[list[int], int]:
        lc = self._lc
        buffer = (lc.llama_token * capacity)()
        n = int(
            lc.llama_tokenize(self._vocab, data, len(data), buffer, capacity, add_special, False)
        )
        return (buffer[:n] if n >= 0 else []), n

    def embed_batch(self, batch: list[list[int]]) -> list[list[float]]:
        lc = self._lc
        lc.llama_memory_clear(lc.llama_get_memory(self._ctx), True)
        b = self._batch
        n = 0
        for seq, ids in enumerate(batch):
            for pos, token in enumerate(ids):
                b.token[n] = token
                b.pos[n] = pos
                b.n_seq_id[n] = 1
                b.seq_id[n][0] = seq
                b.logits[n] = True
                n += 1
        b.n_tokens = n
        rc = self._run(self._ctx, b)
        if rc != 0:
            raise EngineError(f"llama.cpp failed to embed a batch of {len(batch)} (code {rc})")
        vectors = np.empty((len(batch), self.dimensions), dtype=np.float32)
        for seq in range(len(batch)):
            ptr = lc.llama_get_embeddings_seq(self._ctx, seq)
            if not ptr:
                raise EngineError(f"llama.cpp returned no pooled embedding for sequence {seq}")
            vectors[seq] = np.ctypeslib.as_array(
                ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), shape=(self.dimensions,)
            )
        if self._normalize:
            vectors /= np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
        return vectors.tolist()  # type: ignore[no-any-return]

    def close(self) -> None:
        lc = self._lc
        if self._batch is not None:
            lc.llama_batch_free(self._batch)
            self._batch = None
        if self._ctx:
            lc.llama_free(self._ctx)
            self._ctx = None
        if self._model:
            lc.llama_model_free(self._model)
            self._model = None
