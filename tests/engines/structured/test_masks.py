"""Grammar masks filled on the scheduler thread (``mask_threads: 0``) are the pool's masks."""

from __future__ import annotations

import llguidance
import numpy as np
import pytest

from inferstack.engines.llamacpp.structured import GrammarVocab, StructuredState, fill_masks
from inferstack.engines.structured import GrammarCompiler, GrammarLimits

SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "maxLength": 12},
        "days": {"type": "integer", "minimum": 1, "maximum": 14},
        "units": {"enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city", "days", "units"],
    "additionalProperties": False,
}


def states(vocab: GrammarVocab, n: int) -> list[StructuredState]:
    limits = GrammarLimits()
    grammar = GrammarCompiler(vocab.tokenizer, limits=limits).compile(SCHEMA, param="p")
    return [
        StructuredState(
            vocab,
            llguidance.LLMatcher(
                vocab.tokenizer, grammar.grammar, log_level=0, limits=limits.parser_limits()
            ),
            lazy=False,
        )
        for _ in range(n)
    ]


def test_masks_on_the_scheduler_thread_equal_the_pools(
    vocab: GrammarVocab, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert vocab.executor is not None
    walkers = states(vocab, 4)
    pooled = np.zeros((4, vocab.words), dtype=np.int32)
    alone = np.zeros((4, vocab.words), dtype=np.int32)
    rng = np.random.default_rng(3)
    compared = 0
    for _ in range(24):
        live = [st for st in walkers if not st.finished]
        if not live:
            break
        fill_masks(vocab, live, pooled)
        with monkeypatch.context() as m:
            m.setattr(vocab, "executor", None)
            alone.fill(0)
            fill_masks(vocab, live, alone)
        assert np.array_equal(pooled[: len(live)], alone[: len(live)])
        compared += len(live)
        for i, st in enumerate(live):
            allowed = np.nonzero(st.allowed(alone[i]))[0]
            assert allowed.size
            assert st.matcher.consume_token(int(rng.choice(allowed)))
    # Each walker went through different states (random tokens), so this compared real masks.
    assert compared > 24
