"""The shortest text that completes a partial constrained output, for budget-safe closing.

When ``max_tokens`` is about to run out in the middle of a JSON value, the output still has to
parse and validate: the engine ends it with the closing text this module finds. The search runs
on a copy of the sequence's llguidance matcher, one byte-token at a time, depth first: bytes the
grammar forces come free, then candidates in an order that ends structures early — inside a
string the closing quote, letters and digits, then ``@ . - _`` after a run of them (an e-mail,
a code); outside strings ``}`` ``]`` ``"`` ``,`` ``0`` — within a bound on the bytes it may
choose and on its work (fuel), so a schema with no short completion costs a bounded amount and
returns ``None`` instead of looping.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass, field

import llguidance

__all__ = ["ByteTokens", "ClosingSearch", "JsonScan"]

_ALNUM = (string.ascii_uppercase + string.ascii_lowercase + string.digits).encode()
_STRING_ALNUM = (string.ascii_uppercase + string.ascii_lowercase + "1023456789").encode()
"""Inside strings a 1 comes before a 0, so a date or a time closes as a real one (year 1111)."""
_WORD_PUNCT = b":@.-_ /+"
_IN_STRING_SHORT = b'"' + _STRING_ALNUM + _WORD_PUNCT
_IN_STRING_RUN = b'"' + _WORD_PUNCT + _STRING_ALNUM
_OUTSIDE = b'}]",:0-1ntf[{.' + _ALNUM


class ByteTokens:
    """Byte value → the token that is exactly that byte (byte-level vocabularies have one for
    each ASCII character and ``<0xNN>`` tokens for the rest)."""

    def __init__(self, tokenize_bytes: Callable[[bytes], list[int]]) -> None:
        self.by_byte: dict[int, int] = {}
        for value in range(256):
            ids = tokenize_bytes(bytes([value]))
            if len(ids) == 1:
                self.by_byte[value] = ids[0]

        def ranked(order: bytes) -> list[tuple[int, int]]:
            seen = dict.fromkeys(order)
            return [(b, self.by_byte[b]) for b in seen if b in self.by_byte]

        self._in_short = ranked(_IN_STRING_SHORT)
        self._in_run = ranked(_IN_STRING_RUN)
        self._outside = ranked(_OUTSIDE)

    def ranked(self, scan: JsonScan) -> list[tuple[int, int]]:
        """Candidates in search order for the position ``scan`` describes."""
        if not scan.in_string:
            return self._outside
        return self._in_run if scan.run >= 2 else self._in_short


@dataclass
class JsonScan:
    """Where a JSON text stands lexically: inside a string (after an escape; ``chars``: bytes
    of the string's content so far), and how many letters or digits end it."""

    in_string: bool = False
    escaped: bool = False
    run: int = 0
    chars: int = 0

    def feed(self, data: bytes) -> None:
        for value in data:
            if self.in_string:
                if self.escaped:
                    self.escaped = False
                elif value == 0x5C:
                    self.escaped = True
                elif value == 0x22:
                    self.in_string = False
                if self.in_string:
                    self.chars += 1
            elif value == 0x22:
                self.in_string, self.chars = True, 0
            word = 0x30 <= value <= 0x39 or 0x41 <= value <= 0x5A or 0x61 <= value <= 0x7A
            self.run = self.run + 1 if word else 0

    def copy(self) -> JsonScan:
        return JsonScan(self.in_string, self.escaped, self.run, self.chars)


@dataclass
class ClosingSearch:
    """Finds closing text with bounded work; ``work`` counts token trials (the fuel used)."""

    tokens: ByteTokens
    fuel: int = 4000
    max_choices: int = 192
    """Bytes the search may choose (forced bytes are free) before a branch is abandoned."""
    work: int = 0
    _left: int = field(default=0, repr=False)

    def closing(self, matcher: llguidance.LLMatcher, scan: JsonScan) -> bytes | None:
        """Bytes that bring ``matcher`` (left unchanged) to an accepting state from the lexical
        position ``scan``, or ``None`` when none is found within the bounds."""
        if matcher.is_accepting():
            return b""
        probe = matcher.deep_copy()
        self._left = self.fuel
        out = bytearray()
        return bytes(out) if self._search(probe, out, scan.copy(), self.max_choices) else None

    def _search(
        self, m: llguidance.LLMatcher, out: bytearray, scan: JsonScan, choices: int
    ) -> bool:
        if m.is_accepting():
            return True
        if choices <= 0 or self._left <= 0 or m.is_stopped():
            return False
        forced = m.compute_ff_bytes()
        if forced:
            return self._forced(m, out, scan, choices, forced)
        for value, token in self.tokens.ranked(scan):
            if self._left <= 0:
                return False
            self._left -= 1
            self.work += 1
            if m.try_consume_tokens([token]) != 1:
                continue
            out.append(value)
            after = scan.copy()
            after.feed(bytes([value]))
            if self._search(m, out, after, choices - 1):
                return True
            out.pop()
            m.rollback(1)
        return False

    def _forced(
        self, m: llguidance.LLMatcher, out: bytearray, scan: JsonScan, choices: int, forced: bytes
    ) -> bool:
        taken = 0
        for value in forced:
            token = self.tokens.by_byte.get(value)
            self.work += 1
            self._left -= 1
            if token is None or self._left <= 0 or m.try_consume_tokens([token]) != 1:
                break
            out.append(value)
            taken += 1
        if not taken:
            return False
        after = scan.copy()
        after.feed(forced[:taken])
        if self._search(m, out, after, choices):
            return True
        del out[len(out) - taken :]
        m.rollback(taken)
        return False
