"""Copying values from the request: a logit bonus for JSON string values that repeat a span
of the user's message.

A small base model asked for ``get_weather(city)`` about "Nairobi" may write a city it
associates with it instead ("Kenyatta"), and one asked for ``translate(word)`` may translate
the word already. Tool arguments and extraction fields mostly repeat the request, so while the
output is inside a JSON string the tokens that continue such a repetition get a bonus:

- at the start of a string, the first token of every word of the source, and of its lower
  case when it is capitalised (``start_bonus``);
- inside a string whose text so far is a span of the source starting at a word, the token
  that continues that span (``follow_bonus``), while the span goes on: a letter or digit, a
  joining mark (``-``, ``'``, ``.``, ``/``, ``:``) before one, or a space before a capital or a
  digit ("Ada Lovelace", "New York", "2025-03-14"); a space before a lowercase word ends it,
  as does punctuation, so the model closes the string there on its own.

The bonus only reorders what the grammar allows (masked tokens stay at ``-inf``), and the
model still decides: a value the request does not contain (a unit derived from "°F") is
unaffected except at its first token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["SpanCopy"]

MAX_SOURCE_CHARS = 2000
"""Only the end of a long source is used (the question is at the end of the user's turn)."""
_LOOKAHEAD = 24
_JOINERS = "-'./:"


def _word_char(c: str) -> bool:
    return c.isalnum()


@dataclass
class SpanCopy:
    """The spans of one source text, for one sequence; queried once per constrained step."""

    source: str
    tokenize: Callable[[str], list[int]]
    start_bonus: float
    follow_bonus: float
    starts: list[int] = field(init=False)
    """Offsets in ``source`` where a word begins."""
    start_tokens: np.ndarray = field(init=False)
    _first: dict[int, int | None] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.source = self.source[-MAX_SOURCE_CHARS:]
        s = self.source
        self.starts = [
            i for i, c in enumerate(s) if _word_char(c) and (i == 0 or not _word_char(s[i - 1]))
        ]
        firsts = {self._first_token(i) for i in self.starts}
        # A capitalised word may be wanted in lower case (an enum's "fahrenheit").
        firsts |= {
            self._first_of(s[i : i + _LOOKAHEAD].lower()) for i in self.starts if s[i].isupper()
        }
        self.start_tokens = np.array(sorted(t for t in firsts if t is not None), dtype=np.int64)

    def _first_of(self, text: str) -> int | None:
        tokens = self.tokenize(text)
        return tokens[0] if tokens else None

    def _first_token(self, offset: int) -> int | None:
        """The first token of the source's text from ``offset`` (cached)."""
        if offset not in self._first:
            self._first[offset] = self._first_of(self.source[offset : offset + _LOOKAHEAD])
        return self._first[offset]

    def _continues(self, offset: int) -> bool:
        s = self.source
        if offset >= len(s):
            return False
        c = s[offset]
        if _word_char(c):
            return True
        after = s[offset + 1] if offset + 1 < len(s) else ""
        if c in _JOINERS:
            return _word_char(after)
        return c == " " and (after.isupper() or after.isdigit())

    def add_bonus(self, logits: np.ndarray, value: str) -> None:
        """Add the bonus for the string value written so far (``value``) to ``logits``."""
        if not value:
            if self.start_tokens.size:
                logits[self.start_tokens] += self.start_bonus
            return
        follow: set[int] = set()
        for start in self.starts:
            if self.source.startswith(value, start):
                end = start + len(value)
                if self._continues(end):
                    token = self._first_token(end)
                    if token is not None:
                        follow.add(token)
        if follow:
            logits[np.fromiter(follow, dtype=np.int64)] += self.follow_bonus
