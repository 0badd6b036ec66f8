"""Scalar keywords: number bounds and formats, and the ``enum``/``const`` members that fit.

Functions here raise ValueError with a message; :mod:`.schema` reports it as an invalid schema.
"""

from __future__ import annotations

from typing import Any

from inferstack.engines.structured.nodes import BIG, NumberNode, json_text
from inferstack.engines.structured.numbers import min_number_text, scaled_bounds, viable

__all__ = ["NUMBER_FORMATS", "enum_texts", "is_type", "number_node"]

NUMBER_FORMATS: dict[str, tuple[int, int] | None] = {
    "int32": (-(2**31), 2**31 - 1),
    "int64": None,
    "float": None,
    "double": None,
}
"""The ``format`` values accepted (numeric ones): ``int32`` bounds the value, others are
ignored. String formats (``date-time``, ``email``, ...) are not supported."""

_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def is_type(value: Any, name: str) -> bool:
    """Whether a JSON value has the JSON Schema type ``name`` (1.0 is an integer)."""
    if name in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return name == "number" or isinstance(value, int) or value.is_integer()
    kinds = {"object": dict, "array": list, "string": str, "boolean": bool}
    return value is None if name == "null" else isinstance(value, kinds[name])


def _accepts(schema: dict[str, Any], kinds: list[str] | None, value: Any) -> bool:
    """Whether an enum member satisfies the scalar keywords beside it."""
    if kinds is not None and not any(is_type(value, t) for t in kinds):
        return False
    if isinstance(value, str):
        return schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", BIG)
    if is_type(value, "number"):
        lo, hi = schema.get("minimum"), schema.get("maximum")
        elo, ehi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        return not (
            (lo is not None and value < lo)
            or (hi is not None and value > hi)
            or (is_type(elo, "number") and value <= elo)
            or (is_type(ehi, "number") and value >= ehi)
        )
    return True


def enum_texts(schema: dict[str, Any], kinds: list[str] | None, nullable: bool) -> list[str]:
    """Canonical texts of the ``enum``/``const`` members that satisfy the other keywords."""
    values = schema.get("enum", [schema.get("const")])
    if not isinstance(values, list) or not values:
        raise ValueError("'enum' must be a non-empty array")
    try:
        if "const" in schema:
            values = [v for v in values if json_text(v) == json_text(schema["const"])]
        if nullable:
            values = [*values, None]
        texts = [json_text(v) for v in values if _accepts(schema, kinds, v)]
    except (TypeError, ValueError):
        raise ValueError("'enum'/'const' values must be JSON values") from None
    if not texts:
        raise ValueError("no 'enum'/'const' value satisfies the other keywords")
    return texts


def number_node(schema: dict[str, Any], *, integer: bool) -> NumberNode:
    """A number node for the bound keywords (draft-4 boolean exclusives too) and ``format``."""
    bounds: dict[str, Any] = {}
    for kw in _BOUNDS:
        value = schema.get(kw)
        if value is not None and not isinstance(value, int | float):
            raise ValueError(f"{kw!r} must be a number")
        bounds[kw] = value
    for kw, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(bounds[kw], bool):  # draft 4: a flag on the plain bound
            bounds[kw] = bounds[plain] if bounds[kw] else None
            bounds[plain] = None if bounds[kw] is not None else bounds[plain]
    fmt_range = NUMBER_FORMATS.get(schema.get("format", ""))
    if fmt_range is not None:
        (low, high), mn, mx = fmt_range, bounds["minimum"], bounds["maximum"]
        bounds["minimum"] = low if mn is None else max(low, mn)
        bounds["maximum"] = high if mx is None else min(high, mx)
    lo, hi = scaled_bounds(integer, *(bounds[kw] for kw in _BOUNDS))
    node = NumberNode(integer, lo, hi)
    node.neg_ok = (lo is None or lo < 0) and viable(node, True, "", False, "")
    node.min_text = min_number_text(node)
    if node.min_text is None:
        raise ValueError("no number of at most 15 digits satisfies the bounds")
    return node
