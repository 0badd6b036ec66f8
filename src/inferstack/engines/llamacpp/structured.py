"""Constrained decoding on llama.cpp: every token of a structured sequence keeps the output a
valid prefix of schema-valid JSON, and the output budget always leaves room to close it.

The sampler chain proposes a token as usual; when the :class:`JsonConstraint` refuses it, the
next candidates come from the top of the logits, then the first token of the shortest valid
continuation, then the single-character tokens (which can always continue JSON).

A token is taken only if the text closing the JSON after it still fits the remaining budget;
when nothing fits, the sequence ends with the closing text. Either way, once the budget rather
than the model ended the value, ``finish_reason`` is ``"length"``. So the output parses and
validates even when ``max_tokens`` runs out mid-string.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import llama_cpp as ll
import numpy as np

from inferstack.engines.llamacpp.model import LlamaModel
from inferstack.engines.structured import JsonConstraint

__all__ = ["Choice", "StructuredState", "TokenTexts"]

TOP_K = 128
"""Logit-ranked candidates tried when the proposed token breaks the constraint."""


class TokenTexts:
    """Token id → its text, for tokens that are whole UTF-8 text (cached; model-wide)."""

    def __init__(self, model: LlamaModel) -> None:
        self.model = model
        self._cache: dict[int, str | None] = {}
        self._singles: np.ndarray | None = None

    def text(self, token: int) -> str | None:
        """The token's text; ``None`` for end-of-generation, control and partial-UTF-8 tokens."""
        try:
            return self._cache[token]
        except KeyError:
            pass
        text: str | None = None
        if not self.model.is_eog(token):
            try:
                text = self.model.token_piece(token).decode("utf-8") or None
            except UnicodeDecodeError:
                text = None
        self._cache[token] = text
        return text

    def singles(self) -> np.ndarray:
        """Tokens that are one character: the last resort, since they can continue any JSON."""
        if self._singles is None:
            self._singles = np.array(
                [t for t in range(self.model.n_vocab) if len(self.text(t) or "") == 1]
            )
        return self._singles


@dataclass(frozen=True, slots=True)
class Choice:
    """The structured sampler's decision: a token and its text, or (token ``None``) the
    closing text that ends the sequence because the budget is spent."""

    token: int | None
    text: str


class StructuredState:
    """The constraint of one sequence plus what choosing its tokens needs."""

    def __init__(
        self,
        constraint: JsonConstraint,
        *,
        lazy: bool,
        temperature: float,
        seed: int | None,
        texts: TokenTexts,
    ) -> None:
        self.constraint = constraint
        self.lazy = lazy
        """Undecided yet whether this output is JSON (it is once it opens with ``{``)."""
        self.active = not lazy
        self.truncated = False
        """The budget, not the model, ended the value: the finish reason is ``length``."""
        self.temperature = temperature
        self.rng = random.Random(seed)
        self.texts = texts

    def closing_tokens(self, constraint: JsonConstraint, room: int | None = None) -> int:
        """Tokens of the text that would close ``constraint`` now. Every token covers at
        least one byte, so when the bytes already fit ``room`` no tokenizing is needed."""
        closing = constraint.closing()
        size = len(closing.encode())
        if room is not None and size <= room:
            return size
        return len(self.texts.model.tokenize(closing, add_special=False, parse_special=False))

    def decide_lazy(self, text: str) -> bool | None:
        """In lazy mode: True when ``text`` opens JSON (``{`` or ``[``), False when it opens
        prose, None while only whitespace has come."""
        stripped = text.lstrip()
        if not stripped:
            return None
        return stripped[0] in "{["

    def choose(self, ctx: ll.llama_context_p, index: int, proposed: int, room: int) -> Choice:
        """Pick the next token given the chain's ``proposed`` one and ``room`` tokens left."""
        c = self.constraint
        text = self.texts.text(proposed)
        if self.texts.model.is_eog(proposed) and c.complete:
            return Choice(proposed, "")
        if text is not None and c.can_feed(text):
            if self._fits(text, room):
                return Choice(proposed, text)
            self.truncated = True  # the model wanted to go on; the budget closes the JSON
        logits = np.ctypeslib.as_array(ll.llama_get_logits_ith(ctx, index), shape=(self.n_vocab,))
        top = np.argpartition(logits, -TOP_K)[-TOP_K:]
        ranked = [int(t) for t in top[np.argsort(logits[top])[::-1]]]
        found = self._pick(ranked, logits, room)
        if found is None:
            # The model wants nothing the schema allows here (a const name, a closing brace):
            # take the first token of the shortest valid continuation, often a whole word.
            hint = self.texts.model.tokenize(c.closing(), add_special=False, parse_special=False)
            found = self._pick(hint[:1], logits, room)
        if found is None:
            singles = self.texts.singles()
            found = self._pick(singles[np.argsort(logits[singles])[::-1]].tolist(), logits, room)
        if found is None:
            return Choice(None, c.closing())
        return found

    @property
    def n_vocab(self) -> int:
        return self.texts.model.n_vocab

    def _fits(self, text: str, room: int) -> bool:
        c = self.constraint
        if not c.can_feed(text):
            return False
        after = c.copy()
        after.feed(text)
        return 1 + self.closing_tokens(after, room - 1) <= room

    def _pick(self, candidates: list[int], logits: np.ndarray, room: int) -> Choice | None:
        valid: list[tuple[int, str]] = []
        for token in candidates:
            text = self.texts.text(token)
            if text is not None and self._fits(text, room):
                if self.temperature <= 0:
                    return Choice(token, text)
                valid.append((token, text))
        if not valid:
            return None
        peak = max(float(logits[t]) for t, _ in valid)
        weights = [math.exp((float(logits[t]) - peak) / self.temperature) for t, _ in valid]
        token, text = self.rng.choices(valid, weights=weights)[0]
        return Choice(token, text)
