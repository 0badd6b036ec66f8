"""Budget-safe structured output on vLLM: the JSON still validates when ``max_tokens`` cuts it.

vLLM's grammar keeps every token a valid prefix of the value but cannot know the budget. So the
engine mirrors the output in a :class:`~inferstack.engines.structured.TextConstraint` (the
same llguidance grammar and closing search as the llama.cpp engine) and releases text
only while the closing text after it still fits the budget. If vLLM stops on the budget, the
output ends at the longest held-back prefix whose closing fits, plus that closing: valid JSON,
``finish_reason`` ``"length"``, never more than ``max_tokens`` tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from inferstack.engines.structured import TextConstraint

__all__ = ["JsonBudget"]


@dataclass(slots=True)
class _Point:
    tokens: int
    """Output tokens up to here."""
    text: str
    """Text of the chunk that ends here."""
    closing: str
    closing_tokens: int


class JsonBudget:
    """Tracks one structured sequence's output against its token budget."""

    def __init__(
        self,
        schema: dict | None,
        *,
        budget: int,
        count_tokens: Callable[[str], int],
        param: str = "response_format",
    ) -> None:
        self.budget = budget
        self._count = count_tokens
        self._constraint = TextConstraint(schema, param=param)
        self._tokens = 0
        self._held: list[_Point] = []
        self._released = _Point(0, "", *self._closing())
        self.tracking = True
        """False once the output left what the mirror constraint accepts (then text passes)."""

    def smallest_value_tokens(self) -> int:
        """Tokens of the smallest valid value: a budget under this can never validate."""
        return self._released.closing_tokens

    def _closing(self) -> tuple[str, int]:
        closing = self._constraint.closing()
        if closing is None:  # no short completion found: nothing can be promised
            self.tracking = False
            return "", 0
        room = self.budget - self._tokens
        size = len(closing.encode())  # every token covers at least one byte
        return closing, size if size <= room else self._count(closing)

    def feed(self, text: str, tokens: int) -> str:
        """Take a chunk of output (``tokens`` new tokens); return the text safe to send now."""
        self._tokens += tokens
        if not self.tracking:
            return text
        if text and self._constraint.can_feed(text):
            self._constraint.feed(text)
        elif text:
            self.tracking = False  # not the mirror's dialect: pass it on, unguarded
            return self._release_all() + text
        point = _Point(self._tokens, text, *self._closing())
        if not self._held and point.tokens + point.closing_tokens <= self.budget:
            self._released = point
            return text
        self._held.append(point)
        return ""

    def finish(self, *, cut: bool) -> tuple[str, int]:
        """At the end: the text still to send and how many tokens the output has in all. When
        the budget cut the value (``cut``), it is closed at the longest prefix that fits."""
        if not cut or not self.tracking:
            return self._release_all(), self._tokens
        best = self._released
        best_index = -1
        for i, point in enumerate(self._held):
            if point.tokens + point.closing_tokens <= self.budget:
                best, best_index = point, i
        text = "".join(p.text for p in self._held[: best_index + 1]) + best.closing
        self._held = []
        return text, best.tokens + best.closing_tokens

    def _release_all(self) -> str:
        text = "".join(p.text for p in self._held)
        self._held = []
        return text
