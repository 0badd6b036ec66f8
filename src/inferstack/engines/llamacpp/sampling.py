"""Per-sequence sampling: llama.cpp sampler chains run on plain logit arrays, log
probabilities, UTF-8-safe detokenizing, stop strings.

Nothing here touches a ``llama_context``: the scheduler thread reads every output's logits
once after the decode and hands these functions the arrays, so the sampling pool's threads never
call into the context (``llama_get_logits_ith`` reorders outputs inside it).
"""

from __future__ import annotations

import codecs
import ctypes
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import llama_cpp as ll
import numpy as np

from inferstack.engines.base import SamplingParams, TokenLogprob
from inferstack.errors import EngineError, InvalidRequestError

__all__ = [
    "Candidates",
    "StopMatcher",
    "TextStream",
    "build_sampler",
    "free_sampler",
    "token_logprob",
]

PENALTY_WINDOW = 1024
"""Generated tokens that presence, frequency and repetition penalties look back over."""


def build_sampler(
    params: SamplingParams, *, n_vocab: int, default_seed: int | None
) -> ll.llama_sampler_p:
    """A sampler chain for one sequence, in llama.cpp's usual order:
    logit bias → penalties → top-k → top-p → min-p → temperature → draw."""
    chain = ll.llama_sampler_chain_init(ll.llama_sampler_chain_default_params())
    if params.logit_bias:
        biases = [(t, b) for t, b in params.logit_bias.items() if 0 <= t < n_vocab]
        if len(biases) != len(params.logit_bias):
            ll.llama_sampler_free(chain)
            raise InvalidRequestError(
                "logit_bias names a token id outside the vocabulary", param="logit_bias"
            )
        arr = (ll.llama_logit_bias * len(biases))(*[ll.llama_logit_bias(t, b) for t, b in biases])
        ll.llama_sampler_chain_add(
            chain, ll.llama_sampler_init_logit_bias(n_vocab, len(biases), arr)
        )
    if params.presence_penalty or params.frequency_penalty or params.repetition_penalty != 1.0:
        ll.llama_sampler_chain_add(
            chain,
            ll.llama_sampler_init_penalties(
                n_vocab,
                PENALTY_WINDOW,
                params.repetition_penalty,
                params.frequency_penalty,
                params.presence_penalty,
            ),
        )
    if params.temperature <= 0.0:
        ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_greedy())
        return chain
    if params.top_k > 0:
        ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_top_k(params.top_k))
    if params.top_p < 1.0:
        ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_top_p(params.top_p, 1))
    if params.min_p > 0.0:
        ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_min_p(params.min_p, 1))
    ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_temp(params.temperature))
    seed = params.seed if params.seed is not None else default_seed
    if seed is None:
        seed = random.getrandbits(32)
    ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_dist(seed & 0xFFFFFFFF))
    return chain


def free_sampler(chain: ll.llama_sampler_p | None) -> None:
    if chain:
        ll.llama_sampler_free(chain)


_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)
assert _TOKEN_DATA.itemsize == ctypes.sizeof(ll.llama_token_data)


class Candidates:
    """A reusable ``llama_token_data`` array over the vocabulary: what ``llama_sampler_sample``
    builds from the context, built here from a logits array instead."""

    def __init__(self, n_vocab: int) -> None:
        self.data = np.zeros(n_vocab, dtype=_TOKEN_DATA)
        self._ids = np.arange(n_vocab, dtype=np.int32)
        self._ptr = self.data.ctypes.data_as(ll.llama_token_data_p)
        self._array = ll.llama_token_data_array(
            data=self._ptr, size=n_vocab, selected=-1, sorted=False
        )

    def sample(self, chain: ll.llama_sampler_p, logits: np.ndarray) -> int:
        """Run ``chain`` over ``logits``, accept the token it selects and return it."""
        data, arr = self.data, self._array
        data["id"] = self._ids
        data["logit"] = logits
        data["p"] = 0.0
        arr.data = self._ptr  # type: ignore[assignment]
        arr.size, arr.selected, arr.sorted = len(data), -1, False
        ll.llama_sampler_apply(chain, ctypes.byref(arr))
        if not 0 <= arr.selected < arr.size:
            raise EngineError("the sampler chain selected no token")
        token = int(arr.data[arr.selected].id)
        ll.llama_sampler_accept(chain, token)
        return token


def token_logprob(
    logits: np.ndarray, token: int, top: int, piece: Callable[[int], bytes]
) -> TokenLogprob:
    """``token``'s log probability under ``logits`` (log-softmax) and the ``top`` likeliest."""
    peak = float(logits.max())
    log_total = peak + float(np.log(np.exp(logits - peak, dtype=np.float64).sum()))
    best: list[tuple[int, bytes, float]] = []
    if top > 0:
        ids = np.argpartition(logits, -top)[-top:]
        ids = ids[np.argsort(-logits[ids], kind="stable")]
        best = [(int(t), piece(int(t)), float(logits[t]) - log_total) for t in ids]
    return TokenLogprob(token, piece(token), float(logits[token]) - log_total, best)


@dataclass
class StopMatcher:
    """Finds stop strings in streamed text, holding back a tail that may start one."""

    stops: list[str]
    _held: str = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """Add ``text``; return the text safe to emit and whether a stop string was hit."""
        buf = self._held + text
        if not self.stops:
            self._held = ""
            return buf, False
        hit = min((i for s in self.stops if (i := buf.find(s)) >= 0), default=-1)
        if hit >= 0:
            self._held = ""
            return buf[:hit], True
        keep = 0
        for stop in self.stops:
            for n in range(min(len(stop) - 1, len(buf)), 0, -1):
                if buf.endswith(stop[:n]):
                    keep = max(keep, n)
                    break
        self._held = buf[len(buf) - keep :]
        return buf[: len(buf) - keep], False

    def flush(self) -> str:
        """The held-back text, once generation ended without a stop string."""
        held, self._held = self._held, ""
        return held


@dataclass
class TextStream:
    """Turns token pieces (bytes) into text without splitting UTF-8 characters."""

    _decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )

    def feed(self, piece: bytes) -> str:
        return self._decoder.decode(piece)

    def flush(self) -> str:
        return self._decoder.decode(b"", final=True)
