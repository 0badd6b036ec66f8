"""From one decode's logits to one token per sequence: grammar masks, then sampler chains.

The scheduler thread calls both steps after ``llama_decode``, in this order:
:meth:`BatchSampler.constrain` masks the logits of every structured sequence in the context's
buffer, then :meth:`BatchSampler.sample` reads every output's logits once and samples each
sequence. Only the scheduler thread calls into the context; the sampling pool works on the
plain arrays it is handed and never does.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import llama_cpp as ll
import numpy as np

from inferstack.engines.llamacpp.model import LlamaModel
from inferstack.engines.llamacpp.sampling import Candidates, token_logprob
from inferstack.engines.llamacpp.sequence import Sequence
from inferstack.engines.llamacpp.structured import (
    GrammarVocab,
    apply_mask,
    fill_masks,
    greedy_token,
)
from inferstack.errors import InvalidRequestError

__all__ = ["BatchSampler"]


class BatchSampler:
    """The sampling side of a scheduler step, for one :class:`LlamaModel`: the grammar mask
    buffer, the sampling pool and its threads' candidate arrays."""

    def __init__(self, model: LlamaModel, grammar: GrammarVocab | None) -> None:
        self.model = model
        self.grammar = grammar
        self._masks = np.zeros(
            (model.settings.parallel, grammar.words if grammar else 1), dtype=np.int32
        )
        self._deferred: dict[int, np.ndarray] = {}
        """Mask rows of this step's greedy structured sequences, by ``id(seq)``: applied only
        when the argmax is a token the grammar refuses."""
        self._candidates = threading.local()
        self._pool = ThreadPoolExecutor(
            max_workers=model.settings.threads, thread_name_prefix="llamacpp-sample"
        )

    def shutdown(self) -> None:
        """Stop the sampling pool (once the scheduler thread has ended)."""
        self._pool.shutdown()

    def constrain(
        self, outputs: list[tuple[Sequence, int]]
    ) -> tuple[list[tuple[Sequence, int]], list[tuple[Sequence, InvalidRequestError]]]:
        """Mask the logits of every structured sequence to what its grammar allows. Returns
        the outputs left to sample, and each sequence whose grammar gave up (its work limits
        hit) with the error that ends it, alone (the caller ends them, in this order)."""
        self._deferred = {}
        constrained = [(seq, index) for seq, index in outputs if seq.structured is not None]
        if not constrained:
            return outputs, []
        assert self.grammar is not None
        states = [seq.structured for seq, _ in constrained]
        masks = self._masks[: len(states)]
        fill_masks(self.grammar, states, masks)  # type: ignore[arg-type]
        failed: list[tuple[Sequence, InvalidRequestError]] = []
        for i, (seq, index) in enumerate(constrained):
            st = seq.structured
            assert st is not None
            if st.matcher.is_error():
                error = InvalidRequestError(
                    f"the output schema is too complex to enforce: {st.matcher.get_error()}",
                    param="response_format",
                    code="schema_too_complex",
                )
                failed.append((seq, error))
                continue
            # NOTE: the argmax of the masked logits is the raw argmax whenever the grammar
            # allows it (the first maximum stays first), so a greedy sequence without
            # logprobs is masked only when its argmax is refused (as llama.cpp's own sampler
            # tries the unconstrained token first).
            defer = seq.plain_greedy and st.active and seq.request.params.logprobs is None
            apply_mask(self.model.ctx, index, self.model.n_vocab, st, masks[i], defer=defer)
            if defer:
                self._deferred[id(seq)] = masks[i]
        gone = {id(seq) for seq, _ in failed}
        return [(seq, index) for seq, index in outputs if id(seq) not in gone], failed

    def sample(self, outputs: list[tuple[Sequence, int]]) -> list[int | BaseException]:
        """One token per sequence (or the error sampling it raised). Plain greedy sequences
        take the argmax of their logits (what a greedy chain computes, without building a
        262k-entry candidate array); the others run their sampler chains on a small thread
        pool (ctypes releases the GIL, and the decode threads are idle meanwhile).

        The logits are read here, on the scheduler thread, once: the pool gets plain arrays
        (valid until the next decode) and never calls into the context."""
        ctx, n_vocab = self.model.ctx, self.model.n_vocab
        ll.llama_synchronize(ctx)
        work = [
            (seq, np.ctypeslib.as_array(ll.llama_get_logits_ith(ctx, index), (n_vocab,)))
            for seq, index in outputs
        ]

        deferred = self._deferred

        def one(item: tuple[Sequence, np.ndarray]) -> int | BaseException:
            seq, logits = item
            try:
                if seq.plain_greedy:
                    token = greedy_token(logits, deferred.get(id(seq)))
                else:
                    token = self._candidates_here().sample(seq.sampler, logits)
                top = seq.request.params.logprobs
                if top is not None:
                    seq.entry = token_logprob(logits, token, top, self.model.token_piece)
                return token
            except Exception as exc:  # top-level handler of one sequence's sampling
                return exc

        if len(work) == 1:
            return [one(work[0])]
        return list(self._pool.map(one, work))

    def _candidates_here(self) -> Candidates:
        """This thread's candidate array (one per pool thread, reused every step)."""
        found: Candidates | None = getattr(self._candidates, "value", None)
        if found is None:
            found = self._candidates.value = Candidates(self.model.n_vocab)
        return found
