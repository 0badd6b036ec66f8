"""The character-level transitions of the JSON automaton.

A parser state is an immutable stack ``(frame, parent_state, depth)``; a frame is a small tuple
whose first item is its tag. States are hashable and never mutated, so a set of them is the
nondeterministic automaton and copying it is free. Frames:

- ``(T_VAL, node, ws)``: a value of ``node`` is expected (``ws`` spaces seen).
- ``(T_STR, node, length, esc)``: inside a string; ``esc`` tracks ``\\`` and ``\\uXXXX``.
- ``(T_NUM, node, neg, ints, dot, frac)``: inside a number.
- ``(T_LIT, trie, pos, lo, hi)``: matching literal texts (enum members, or an object's keys,
  where only the texts ``lo..hi`` may be taken).
- ``(T_OBJ, node, idx, phase, ws, value_node)`` and ``(T_ARR, node, count, phase, ws)``.
- ``T_ROOT`` at the bottom; the state ``DONE`` once the top-level value is closed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from inferstack.engines.structured.nodes import BIG, StringNode
from inferstack.engines.structured.numbers import frac_cap, number_ok, viable

__all__ = [
    "DONE",
    "KEY",
    "P_AFTER",
    "P_COLON",
    "P_COMMA",
    "P_KEY",
    "P_OPEN",
    "P_VALUE",
    "ROOT",
    "T_ARR",
    "T_DONE",
    "T_LIT",
    "T_NUM",
    "T_OBJ",
    "T_ROOT",
    "T_STR",
    "T_VAL",
    "Machine",
    "State",
]

State = tuple[Any, ...]
T_VAL, T_STR, T_NUM, T_LIT, T_OBJ, T_ARR, T_ROOT, T_DONE = range(8)
P_OPEN, P_KEY, P_COLON, P_VALUE, P_AFTER, P_COMMA = range(6)
ROOT: State = ((T_ROOT,), None, 0)
DONE: State = ((T_DONE,), None, 0)
_DIGITS = frozenset("0123456789")
_HEX = frozenset("0123456789abcdefABCDEF")
_SIMPLE_ESCAPES = frozenset('"\\/bfnrt')
KEY = StringNode()
"""The node of a key in an object with arbitrary keys."""


class Machine:
    """Transition functions for one whitespace allowance and nesting limit."""

    def __init__(self, max_ws: int, max_depth: int) -> None:
        self.max_ws = max_ws
        self.max_depth = max_depth
        self.steps: tuple[Callable[[State, str, list[State]], None], ...] = (
            self._val, self._str, self._num, self._lit, self._obj, self._arr, _dead, _dead,
        )  # fmt: skip
        self.starts: tuple[Callable[[Any, State, int, str, list[State]], None], ...] = (
            self._start_obj, self._start_arr, self._start_str, self._start_num, self._start_lit,
            self._start_any, self._start_ref,
        )  # fmt: skip

    def step(self, st: State, c: str, out: list[State]) -> None:
        """Append to ``out`` every state ``st`` can reach by reading ``c``."""
        self.steps[st[0][0]](st, c, out)

    @staticmethod
    def after(st: State, result: int | None) -> State:
        """The container ``st`` once its child (a key, or a value) is complete."""
        f = st[0]
        if f[0] == T_ROOT:
            return DONE
        if f[0] == T_ARR:
            return ((T_ARR, f[1], f[2] + 1, P_AFTER, 0), st[1], st[2])
        node = f[1]
        if f[3] == P_KEY:
            if result is None:
                return ((T_OBJ, node, f[2], P_COLON, 0, node.extra), st[1], st[2])
            return ((T_OBJ, node, result + 1, P_COLON, 0, node.props[result].node), st[1], st[2])
        return ((T_OBJ, node, f[2], P_AFTER, 0, None), st[1], st[2])

    # -- values ---------------------------------------------------------------------------

    def _val(self, st: State, c: str, out: list[State]) -> None:
        f = st[0]
        if c == " ":
            if f[2] < self.max_ws:
                out.append(((T_VAL, f[1], f[2] + 1), st[1], st[2]))
            return
        node = f[1]
        self.starts[node.kind](node, st[1], st[2], c, out)

    def _start_obj(self, node: Any, parent: State, depth: int, c: str, out: list[State]) -> None:
        if c == "{" and depth <= self.max_depth:
            out.append(((T_OBJ, node, 0, P_OPEN, 0, None), parent, depth))

    def _start_arr(self, node: Any, parent: State, depth: int, c: str, out: list[State]) -> None:
        if c == "[" and depth <= self.max_depth:
            out.append(((T_ARR, node, 0, P_OPEN, 0), parent, depth))

    def _start_str(self, node: Any, parent: State, depth: int, c: str, out: list[State]) -> None:
        if c == '"':
            out.append(((T_STR, node, 0, 0), parent, depth))

    def _start_num(self, node: Any, parent: State, depth: int, c: str, out: list[State]) -> None:
        if c == "-":
            if node.neg_ok:
                out.append(((T_NUM, node, True, "", False, ""), parent, depth))
        elif c in _DIGITS and (not node.bounded or viable(node, False, c, False, "")):
            out.append(((T_NUM, node, False, c, False, ""), parent, depth))

    def _start_lit(self, node: Any, parent: State, depth: int, c: str, out: list[State]) -> None:
        self._lit(((T_LIT, node.trie, 0, 0, BIG), parent, depth), c, out)

    def _start_any(self, node: Any, parent: State, depth: int, c: str, out: list[State]) -> None:
        starts = self.starts
        for alt in node.flat:
            starts[alt.kind](alt, parent, depth, c, out)

    def _start_ref(self, node: Any, parent: State, depth: int, c: str, out: list[State]) -> None:
        target = node.final
        self.starts[target.kind](target, parent, depth, c, out)

    # -- scalars --------------------------------------------------------------------------

    def _str(self, st: State, c: str, out: list[State]) -> None:
        _, node, n, esc = st[0]
        if esc == 0:
            if c == '"':
                if n >= node.min_length:
                    out.append(self.after(st[1], None))
            elif c == "\\":
                if n < node.max_length:
                    out.append(((T_STR, node, n, 1), st[1], st[2]))
            elif c >= " " and not "\ud800" <= c <= "\udfff" and n < node.max_length:
                out.append(
                    ((T_STR, node, n + node.counted, 0), st[1], st[2]) if node.counted else st
                )
            return
        nxt = _escape_step(esc, c)
        if nxt == 0:
            n += node.counted
        if nxt >= 0:
            out.append(((T_STR, node, n, nxt), st[1], st[2]))

    def _num(self, st: State, c: str, out: list[State]) -> None:
        _, node, neg, ints, dot, frac = st[0]
        if c in _DIGITS:
            if dot:
                if len(frac) < frac_cap(node, ints) and viable(node, neg, ints, True, frac + c):
                    out.append(((T_NUM, node, neg, ints, True, frac + c), st[1], st[2]))
            elif ints != "0" and len(ints) < 15 and viable(node, neg, ints + c, False, ""):
                out.append(((T_NUM, node, neg, ints + c, False, ""), st[1], st[2]))
        elif c == ".":
            if not dot and ints and frac_cap(node, ints) and viable(node, neg, ints, True, ""):
                out.append(((T_NUM, node, neg, ints, True, ""), st[1], st[2]))
        elif number_ok(node, neg, ints, dot, frac):
            self.step(self.after(st[1], None), c, out)

    def _lit(self, st: State, c: str, out: list[State]) -> None:
        f = st[0]
        trie = f[1]
        child = trie.children.get(c)
        if child is not None and child.has_term(f[3], f[4]):
            if child.children:
                out.append(((T_LIT, child, f[2] + 1, f[3], f[4]), st[1], st[2]))
            else:  # a leaf: the literal is complete and nothing can extend it
                out.append(self.after(st[1], child.term))
        term = trie.term
        if term >= 0 and f[3] <= term <= f[4]:  # complete (a number member): the parent reads c
            self.step(self.after(st[1], term), c, out)

    # -- containers -----------------------------------------------------------------------

    def _obj(self, st: State, c: str, out: list[State]) -> None:
        f = st[0]
        _, node, idx, phase, ws, vnode = f
        if c == " ":
            if ws < self.max_ws:
                out.append(((T_OBJ, node, idx, phase, ws + 1, vnode), st[1], st[2]))
        elif phase == P_AFTER:
            if c == "," and (idx < len(node.props) if node.props else node.extra is not None):
                out.append(((T_OBJ, node, idx, P_COMMA, 0, None), st[1], st[2]))
            elif c == "}" and (not node.props or node.first_req[idx] == len(node.props)):
                out.append(self.after(st[1], None))
        elif phase == P_COLON:
            if c == ":":
                obj = ((T_OBJ, node, idx, P_VALUE, 0, None), st[1], st[2])
                out.append(((T_VAL, vnode, 0), obj, st[2] + 1))
        elif c == '"':  # P_OPEN or P_COMMA: a key
            obj = ((T_OBJ, node, idx, P_KEY, 0, None), st[1], st[2])
            if node.props:
                if idx < len(node.props):
                    hi = min(node.first_req[idx], len(node.props) - 1)
                    key = (T_LIT, node.keys, 0, idx, hi)
                    self._lit((key, obj, st[2] + 1), c, out)
            elif node.extra is not None:
                out.append(((T_STR, KEY, 0, 0), obj, st[2] + 1))
        elif (
            c == "}"
            and phase == P_OPEN
            and (not node.props or node.first_req[0] == len(node.props))
        ):
            out.append(self.after(st[1], None))

    def _arr(self, st: State, c: str, out: list[State]) -> None:
        _, node, count, phase, ws = st[0]
        if c == " ":
            if ws < self.max_ws:
                out.append(((T_ARR, node, count, phase, ws + 1), st[1], st[2]))
        elif phase == P_AFTER:
            if c == "," and count < node.max_items:
                out.append(((T_ARR, node, count, P_COMMA, 0), st[1], st[2]))
            elif c == "]" and count >= node.min_items:
                out.append(self.after(st[1], None))
        elif c == "]" and phase == P_OPEN:
            if node.min_items == 0:
                out.append(self.after(st[1], None))
        elif count < node.max_items:  # P_OPEN or P_COMMA: an item starts
            arr = ((T_ARR, node, count, P_VALUE, 0), st[1], st[2])
            items = node.items
            self.starts[items.kind](items, arr, st[2] + 1, c, out)


def _dead(st: State, c: str, out: list[State]) -> None:
    """Nothing follows a finished value."""


def _escape_step(esc: int, c: str) -> int:
    """The escape state after ``c`` (0: escape done, -1: invalid). States: 1 after ``\\``,
    2 after ``\\u``, 3/4/5 after 1/2/3 hex digits, 6 after ``\\uD`` (surrogates are refused,
    so the next digit must be 0-7)."""
    if esc == 1:
        return 0 if c in _SIMPLE_ESCAPES else 2 if c == "u" else -1
    if esc == 6:
        return 4 if c in "01234567" else -1
    if c not in _HEX:
        return -1
    if esc == 2:
        return 6 if c in "dD" else 3
    return 0 if esc == 5 else esc + 1
