"""Per-sequence sampling: llama.cpp sampler chains, UTF-8-safe detokenizing, stop strings."""

from __future__ import annotations

import codecs
import random
from dataclasses import dataclass, field

import llama_cpp as ll

from inferstack.engines.base import SamplingParams
from inferstack.errors import InvalidRequestError

__all__ = ["StopMatcher", "TextStream", "build_sampler", "free_sampler"]

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
