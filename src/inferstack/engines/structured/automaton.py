"""``JsonConstraint``: an incremental, schema-guided JSON parser for constrained decoding.

The scheduler asks :meth:`JsonConstraint.can_feed` which candidate token text may extend the
output, :meth:`JsonConstraint.feed` s the chosen one, stops when :attr:`finished`, and when the
token budget is about to run out appends :meth:`JsonConstraint.closing`, which completes the
value validly against the schema from any reachable state.

Output format: compact JSON with at most ``max_ws`` spaces in each gap (after ``{ [ , :``,
around values; never newlines or tabs, and nothing after the top-level value), object
properties in schema order, numbers without exponents (see :mod:`.numbers`), strings without
raw control characters or ``\\u`` escapes of surrogates.
"""

from __future__ import annotations

import re
from functools import lru_cache

from inferstack.engines.structured.machine import (
    DONE,
    P_AFTER,
    P_COLON,
    P_COMMA,
    P_OPEN,
    ROOT,
    T_ARR,
    T_DONE,
    T_LIT,
    T_NUM,
    T_OBJ,
    T_STR,
    T_VAL,
    Machine,
    State,
)
from inferstack.engines.structured.nodes import Node
from inferstack.engines.structured.numbers import close_number, number_ok

__all__ = ["JsonConstraint"]

_PLAIN = re.compile(r'[^"\\\x00-\x1f\ud800-\udfff]*')
_ESCAPE_TAILS = {1: "n", 2: "0000", 3: "000", 4: "00", 5: "0", 6: "000"}
_NUMBER_CHARS = "0123456789."
_DEDUP_AT = 8


@lru_cache(maxsize=16)
def _machine(max_ws: int, max_depth: int) -> Machine:
    return Machine(max_ws, max_depth)


class JsonConstraint:
    """The set of parser states reachable by the text fed so far (never empty)."""

    __slots__ = ("_m", "_states")

    def __init__(self, node: Node, *, max_ws: int = 1, max_depth: int = 32) -> None:
        self._m = _machine(max_ws, max_depth)
        self._states: list[State] = [((T_VAL, node, 0), ROOT, 1)]

    def _advance(self, text: str) -> list[State] | None:
        states = self._states
        steps = self._m.steps
        i = 0
        if len(states) == 1 and states[0][0][0] == T_STR and states[0][0][3] == 0:
            i = _PLAIN.match(text).end()  # type: ignore[union-attr]  # always matches
            if i:  # a run of plain string characters, consumed at once
                (_, node, n, _), parent, depth = states[0]
                if n + i > node.max_length:
                    return None
                if node.counted:
                    states = [((T_STR, node, n + i, 0), parent, depth)]
        for c in text[i:] if i else text:
            out: list[State] = []
            for st in states:
                steps[st[0][0]](st, c, out)
            if not out:
                return None
            # NOTE: states converge (anyOf[integer, number] after "1,") and must be deduplicated
            # so they cannot multiply; hashing a state walks its stack, so only now and then.
            states = list(dict.fromkeys(out)) if len(out) > _DEDUP_AT else out
        return list(dict.fromkeys(states)) if len(states) > 1 else states

    def can_feed(self, text: str) -> bool:
        """Whether ``text`` keeps the output a prefix of some schema-valid value."""
        return self._advance(text) is not None

    def feed(self, text: str) -> None:
        """Append ``text``; ValueError if :meth:`can_feed` would refuse it."""
        states = self._advance(text)
        if states is None:
            raise ValueError(f"text {text!r} does not continue the JSON value validly")
        self._states = states

    def copy(self) -> JsonConstraint:
        """An independent constraint in the same state (cheap: states are immutable)."""
        other = object.__new__(JsonConstraint)
        other._m = self._m
        other._states = self._states
        return other

    @property
    def complete(self) -> bool:
        """Whether the text so far is a complete, schema-valid value."""
        return any(self._complete(st) for st in self._states)

    @property
    def finished(self) -> bool:
        """Complete, and nothing more may be appended."""
        if not self.complete:
            return False
        probes: set[str] = set()
        for st in self._states:
            tag = st[0][0]
            if tag == T_NUM:
                probes.update(_NUMBER_CHARS)
            elif tag == T_LIT:
                probes.update(st[0][1].children)
            elif tag != T_DONE:
                return False  # an incomplete state: its closing can be fed
        return not any(self.can_feed(c) for c in probes)

    @staticmethod
    def _complete(st: State) -> bool:
        f = st[0]
        if f[0] == T_DONE:
            return True
        if st[1] is not ROOT:
            return False
        if f[0] == T_NUM:
            return number_ok(*f[1:])
        return f[0] == T_LIT and f[3] <= f[1].term <= f[4]

    def closing(self) -> str:
        """The shortest text (over the current states) that completes the value validly."""
        return min((self._close(st) for st in self._states), key=len)

    def _close(self, st: State) -> str:
        parts = []
        while st is not DONE:
            if st[1] is ROOT and self._complete(st):
                break
            text, result = _finish(st)
            parts.append(text)
            st = self._m.after(st[1], result)
        return "".join(parts)


def _finish(st: State) -> tuple[str, int | None]:
    """Text that completes the top frame of ``st`` (a child of its own is never open), and
    the result the parent receives (the property index of a key)."""
    f = st[0]
    tag = f[0]
    if tag == T_VAL:
        return f[1].min_text, None
    if tag == T_STR:
        _, node, n, esc = f
        tail = _ESCAPE_TAILS.get(esc, "")
        pad = max(0, node.min_length - n - (1 if tail else 0) * node.counted)
        return tail + "a" * pad + '"', None
    if tag == T_NUM:
        text = close_number(*f[1:])
        assert text is not None, "number states are viable by construction"
        return text, None
    if tag == T_LIT:
        _, trie, pos, lo, hi = f
        texts = trie.texts
        j = min((t for t in trie.terms if lo <= t <= hi), key=lambda t: len(texts[t]))
        return texts[j][pos:], j
    if tag == T_OBJ:
        return _finish_object(f), None
    assert tag == T_ARR, f"no closing for frame {tag}"
    _, node, count, phase, _ = f
    item = node.items.min_text
    if phase == P_AFTER:
        return f",{item}" * max(0, node.min_items - count) + "]", None
    need = max(0 if phase == P_OPEN else 1, node.min_items - count)
    return ",".join([item] * need) + "]", None


def _finish_object(f: tuple) -> str:
    _, node, idx, phase, _, vnode = f
    head = ""
    if phase == P_COLON:
        head, phase = ":" + vnode.min_text, P_AFTER
    if not node.props:
        if phase == P_COMMA:
            return f'"":{node.extra.min_text}}}'
        return head + "}"
    rest = [f"{p.key_text}:{p.node.min_text}" for p in node.props[idx:] if p.required]
    if phase == P_AFTER:
        return head + "".join("," + part for part in rest) + "}"
    if phase == P_COMMA and not rest:  # a comma needs one more property: the shortest
        rest = [min((f"{p.key_text}:{p.node.min_text}" for p in node.props[idx:]), key=len)]
    return ",".join(rest) + "}"
