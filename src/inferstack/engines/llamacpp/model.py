"""A loaded llama.cpp model and context, over llama-cpp-python's low-level ctypes API.

Only the scheduler thread touches the context; tokenizing and vocabulary look-ups only read the
model and are safe from any thread.
"""

from __future__ import annotations

import ctypes
import logging
import threading

import llama_cpp as ll

from inferstack.engines.llamacpp.settings import LlamaCppSettings
from inferstack.errors import EngineError

__all__ = ["LlamaModel"]

log = logging.getLogger(__name__)

_backend_lock = threading.Lock()
_backend_ready = False


def _init_backend() -> None:
    global _backend_ready
    with _backend_lock:
        if not _backend_ready:
            # llama-cpp-python prints every llama.cpp log line to stderr unless its logger's
            # level says otherwise; keep warnings and errors only (DEBUG logging brings them back).
            lib_logger = logging.getLogger("llama-cpp-python")
            if lib_logger.level == logging.NOTSET:
                lib_logger.setLevel(max(logging.WARNING, logging.getLogger().getEffectiveLevel()))
            ll.llama_backend_init()
            _backend_ready = True


class LlamaModel:
    """Owns ``llama_model`` and ``llama_context``; frees both in :meth:`close`."""

    def __init__(self, settings: LlamaCppSettings) -> None:
        _init_backend()
        self.settings = settings
        mparams = ll.llama_model_default_params()
        mparams.n_gpu_layers = settings.gpu_layers
        self.model = ll.llama_model_load_from_file(settings.model_path.encode(), mparams)
        if not self.model:
            raise EngineError(f"llama.cpp could not load {settings.model_path}")
        self.vocab = ll.llama_model_get_vocab(self.model)
        self.n_vocab = ll.llama_vocab_n_tokens(self.vocab)
        self.n_ctx_train = ll.llama_model_n_ctx_train(self.model)

        cparams = ll.llama_context_default_params()
        # With KV streams one more sequence id is a scratch stream: moving a running sequence
        # down to a free slot swaps the two slots' streams through it (see Scheduler).
        self.scratch_seq = (
            settings.parallel if settings.parallel > 1 and not settings.kv_unified else None
        )
        cparams.n_seq_max = settings.parallel + (self.scratch_seq is not None)
        cparams.kv_unified = settings.kv_unified
        # Every sequence may use the whole per-sequence context at once, so decode never runs
        # out of KV cells. A unified cache needs all of them in one buffer.
        cparams.n_ctx = settings.ctx_size * cparams.n_seq_max
        cparams.n_batch = settings.batch_size
        cparams.n_ubatch = min(settings.batch_size, 512)
        cparams.n_threads = settings.threads
        cparams.n_threads_batch = settings.threads_batch or settings.threads
        # Keep the full sliding-window cache so prompt prefixes can be trimmed and reused.
        cparams.swa_full = True
        cparams.no_perf = True
        self.ctx = ll.llama_init_from_model(self.model, cparams)
        if not self.ctx:
            ll.llama_model_free(self.model)
            raise EngineError("llama.cpp could not create a context (out of memory?)")
        self.memory = ll.llama_get_memory(self.ctx)
        self.n_ctx_total = ll.llama_n_ctx(self.ctx)
        self.bos_token = self.token_text(ll.llama_vocab_bos(self.vocab))
        self.eos_token = self.token_text(ll.llama_vocab_eos(self.vocab))

    # -- vocabulary ------------------------------------------------------------------------

    def tokenize(
        self, text: str, *, add_special: bool = True, parse_special: bool = True
    ) -> list[int]:
        data = text.encode("utf-8")
        capacity = len(data) + 8
        buf = (ll.llama_token * capacity)()
        n = ll.llama_tokenize(
            self.vocab, data, len(data), buf, capacity, add_special, parse_special
        )
        if n < 0:
            capacity = -n
            buf = (ll.llama_token * capacity)()
            n = ll.llama_tokenize(
                self.vocab, data, len(data), buf, capacity, add_special, parse_special
            )
        return list(buf[:n])

    def token_piece(self, token: int, *, special: bool = False) -> bytes:
        """The bytes of one token (may be part of a UTF-8 character)."""
        buf = ctypes.create_string_buffer(64)
        n = ll.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, special)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = ll.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, special)
        return buf.raw[:n]

    def token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self.token_piece(token, special=True).decode("utf-8", errors="replace")

    def detokenize(self, tokens: list[int]) -> str:
        return b"".join(self.token_piece(t) for t in tokens).decode("utf-8", errors="replace")

    def is_eog(self, token: int) -> bool:
        return bool(ll.llama_vocab_is_eog(self.vocab, token))

    def metadata(self, key: str) -> str | None:
        buf = ctypes.create_string_buffer(1 << 16)
        n = ll.llama_model_meta_val_str(self.model, key.encode(), buf, len(buf))
        if n < 0:
            return None
        if n >= len(buf):
            buf = ctypes.create_string_buffer(n + 1)
            ll.llama_model_meta_val_str(self.model, key.encode(), buf, len(buf))
        return buf.value.decode("utf-8", errors="replace")

    def chat_template(self) -> str | None:
        raw = ll.llama_model_chat_template(self.model, None)
        return raw.decode("utf-8") if raw else None

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        if self.ctx:
            ll.llama_free(self.ctx)
            self.ctx = None
        if self.model:
            ll.llama_model_free(self.model)
            self.model = None
