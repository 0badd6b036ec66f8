"""Bounded JSON numbers: which prefixes can still end in range, and how to finish them.

Generated numbers have no exponent, at most :data:`INT_DIGITS` integer digits, at most
:data:`FRAC_DIGITS` fraction digits and at most :data:`SIG_DIGITS` digits in all (so every
value round-trips through a float exactly and compares with float bounds as it reads). All
arithmetic is on integers scaled by ``U = 10**FRAC_DIGITS``; bounds are turned once into
inclusive scaled bounds on that grid, exclusive ones included.

A number prefix is ``(neg, I, dot, F)``: the sign, the integer digits, whether ``.`` was seen,
and the fraction digits.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext

from inferstack.engines.structured.nodes import NumberNode

__all__ = [
    "FRAC_DIGITS",
    "INT_DIGITS",
    "SIG_DIGITS",
    "U",
    "close_number",
    "frac_cap",
    "min_number_text",
    "number_ok",
    "scaled_bounds",
    "viable",
]

INT_DIGITS = 15
FRAC_DIGITS = 8
SIG_DIGITS = 15
U = 10**FRAC_DIGITS
_DIGITS = "0123456789"
_MEMO_SIZE = 4096


def _scale(bound: int | float, up: bool) -> int:
    """``bound * U`` rounded up (``up``) or down to an integer, exactly."""
    if isinstance(bound, int):
        return bound * U
    with localcontext(prec=60):
        scaled = Decimal(repr(float(bound))) * U
    return int(scaled.to_integral_value(ROUND_CEILING if up else ROUND_FLOOR))


def scaled_bounds(
    integer: bool,
    minimum: float | None,
    maximum: float | None,
    exclusive_minimum: float | None,
    exclusive_maximum: float | None,
) -> tuple[int | None, int | None]:
    """Inclusive scaled bounds ``(lo, hi)`` on the value grid (None: unbounded)."""
    for b in (minimum, maximum, exclusive_minimum, exclusive_maximum):
        if b is not None and not math.isfinite(b):
            raise ValueError("numeric bounds must be finite")
    los = [] if minimum is None else [_scale(minimum, True)]
    his = [] if maximum is None else [_scale(maximum, False)]
    if exclusive_minimum is not None:
        los.append(_scale(exclusive_minimum, False) + 1)
    if exclusive_maximum is not None:
        his.append(_scale(exclusive_maximum, True) - 1)
    lo = max(los) if los else None
    hi = min(his) if his else None
    if integer:  # onto the grid of whole numbers
        lo = None if lo is None else -(-lo // U) * U
        hi = None if hi is None else hi // U * U
    return lo, hi


def frac_cap(node: NumberNode, int_digits: str) -> int:
    """How many fraction digits may follow these integer digits."""
    if node.integer:
        return 0
    used = 0 if int_digits == "0" else len(int_digits)
    return min(FRAC_DIGITS, SIG_DIGITS - used)


def _mag_bounds(node: NumberNode, neg: bool) -> tuple[int, int | None]:
    """Bounds on the magnitude of a number of this sign (``hi < lo`` when none fits)."""
    lo, hi = node.lo, node.hi
    if neg:
        lo, hi = (None if hi is None else -hi), (None if lo is None else -lo)
    return max(lo or 0, 0), hi


def _first(a: int, b: int, step: int, lo: int, hi: int | None) -> int | None:
    """The least ``a + j*step < b`` (j >= 0) within ``[lo, hi]``, or None."""
    v = a if lo <= a else a + -(-(lo - a) // step) * step
    if v >= b or (hi is not None and v > hi):
        return None
    return v


def _intervals(node: NumberNode, ints: str, dot: bool, frac: str) -> Iterator[tuple[int, ...]]:
    """``(a, b, step, int_digits_added)``: grids of reachable magnitudes, ``a`` ascending."""
    if dot:
        a = int(ints) * U + int(frac.ljust(FRAC_DIGITS, "0"))
        yield a, a + 10 ** (FRAC_DIGITS - len(frac)), 10 ** (FRAC_DIGITS - frac_cap(node, ints)), 0
        return
    base = int(ints)
    for k in range((0 if ints == "0" else INT_DIGITS - len(ints)) + 1):
        width = 10**k * U
        cap = frac_cap(node, ints + "1" * k)
        yield base * width, (base + 1) * width, 10 ** (FRAC_DIGITS - cap), k


def viable(node: NumberNode, neg: bool, ints: str, dot: bool, frac: str) -> bool:
    """Whether some completion of this prefix lies within the node's bounds."""
    if not node.bounded:
        return True
    key = (neg, ints, dot, frac)
    known = node.memo.get(key)
    if known is None:
        if len(node.memo) > _MEMO_SIZE:
            node.memo.clear()
        known = node.memo[key] = _viable(node, neg, ints, dot, frac)
    return known


def _viable(node: NumberNode, neg: bool, ints: str, dot: bool, frac: str) -> bool:
    if not ints:
        return any(viable(node, neg, d, False, "") for d in _DIGITS)
    lo, hi = _mag_bounds(node, neg)
    for a, b, step, _ in _intervals(node, ints, dot, frac):
        if hi is not None and a > hi:
            return False
        if _first(a, b, step, lo, hi) is not None:
            return True
    return False


def number_ok(node: NumberNode, neg: bool, ints: str, dot: bool, frac: str) -> bool:
    """Whether the prefix is a complete number within bounds."""
    if not ints or (dot and not frac):
        return False
    if not node.bounded:
        return True
    value = int(ints) * U + int(frac.ljust(FRAC_DIGITS, "0"))
    value = -value if neg else value
    return (node.lo is None or value >= node.lo) and (node.hi is None or value <= node.hi)


def _fmt(value: int, frac_digits: int) -> str:
    ints, frac = divmod(value, U)
    if not frac_digits:
        return str(ints)
    return f"{ints}.{str(frac).rjust(FRAC_DIGITS, '0')[:frac_digits]}"


def close_number(node: NumberNode, neg: bool, ints: str, dot: bool, frac: str) -> str | None:
    """The shortest text that makes the prefix a complete in-range number (None: impossible)."""
    if not ints:
        options = [
            d + t for d in _DIGITS if (t := close_number(node, neg, d, False, "")) is not None
        ]
        return min(options, key=len) if options else None
    lo, hi = _mag_bounds(node, neg)
    cap = frac_cap(node, ints)
    if dot:
        a = int(ints) * U + int(frac.ljust(FRAC_DIGITS, "0"))
        b = a + 10 ** (FRAC_DIGITS - len(frac))
        for more in range(0 if frac else 1, cap - len(frac) + 1):
            v = _first(a, b, 10 ** (FRAC_DIGITS - len(frac) - more), lo, hi)
            if v is not None:
                return _fmt(v, len(frac) + more)[len(ints) + 1 + len(frac) :]
        return None
    grids = list(_intervals(node, ints, False, ""))
    for extra in range(INT_DIGITS + FRAC_DIGITS + 2):  # by the number of characters added
        for a, b, _, k in grids:
            f = 0 if extra == k else extra - k - 1  # k digits, then maybe "." and f digits
            if f < 0 or (extra > k and f == 0) or f > frac_cap(node, ints + "1" * k):
                continue
            v = _first(a, b, 10 ** (FRAC_DIGITS - f), lo, hi)
            if v is not None:
                return _fmt(v, f)[len(ints) :]
    return None


def min_number_text(node: NumberNode) -> str | None:
    """The shortest in-range number text for the node (None when no number fits)."""
    options = [t for t in (close_number(node, False, "", False, ""),) if t is not None]
    if node.neg_ok and (t := close_number(node, True, "", False, "")) is not None:
        options.append("-" + t)
    return min(options, key=len) if options else None
