"""One request's state inside the scheduler (:class:`Sequence`), and the deltas a step hands
to the event loop (:data:`Outbox`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import llama_cpp as ll

from inferstack.engines.base import Delta, GenerateRequest, Timings, TokenLogprob
from inferstack.engines.llamacpp.sampling import StopMatcher, TextStream
from inferstack.engines.llamacpp.slots import Slot
from inferstack.engines.llamacpp.structured import StructuredState

__all__ = ["Outbox", "Sequence"]

Outbox = list[tuple["Sequence", "Delta | BaseException"]]


@dataclass(eq=False)
class Sequence:
    """One request's state inside the scheduler."""

    request: GenerateRequest
    prompt: list[int]
    max_new: int
    sampler: ll.llama_sampler_p
    stop: list[str]
    deliver: Callable[[Delta | BaseException], None]
    """Called on the event loop with each delta (or the error that ended the sequence)."""
    slot: Slot | None = None
    n_past: int = 0
    cached: int = 0
    pending: int | None = None
    generated: int = 0
    cancelled: bool = False
    finished: bool = False
    structured: StructuredState | None = None
    plain_greedy: bool = False
    """Greedy with no logit bias and no penalties: the argmax of the logits is the token."""
    text: TextStream = field(default_factory=TextStream)
    matcher: StopMatcher = field(init=False)
    timings: Timings = field(default_factory=lambda: Timings(time.time_ns()))
    entry: TokenLogprob | None = None
    """This step's token with its log probabilities (when the request asked for them)."""
    logprobs: list[TokenLogprob] = field(default_factory=list)
    """Output tokens not yet handed out in a delta, with their log probabilities."""

    def __post_init__(self) -> None:
        self.matcher = StopMatcher(self.stop)

    @property
    def prefilling(self) -> bool:
        return self.n_past < len(self.prompt)
