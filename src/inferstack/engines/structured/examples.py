"""Realistic example values for a JSON schema, for the worked tool call of the fallback
transcript.

A base model copies the shape of the example it is shown. Shown ``{"city": ""}`` it answers
every question with an empty city; shown ``{"city": "Lisbon"}`` after a question that mentions
Lisbon, it copies the value from the question it is asked. So the example uses the schema's own
``examples``/``default``/``enum`` where it has them, a value that fits the ``format``, and
otherwise a plausible value chosen by the property's name and type.
"""

from __future__ import annotations

from typing import Any

__all__ = ["example_value"]

_BY_FORMAT = {
    "date": "2024-05-17",
    "date-time": "2024-05-17T09:30:00Z",
    "time": "09:30:00Z",
    "email": "maria.silva@example.com",
    "uri": "https://example.com/page",
    "url": "https://example.com/page",
    "uuid": "3f2b8c1e-7d4a-4f7e-9c2d-1a2b3c4d5e6f",
    "hostname": "example.com",
    "ipv4": "192.0.2.10",
    "ipv6": "2001:db8::10",
    "duration": "P3D",
}

_BY_NAME = (
    (("city", "location", "place", "town"), "Lisbon"),
    (("country",), "Portugal"),
    (("first_name", "firstname", "given_name"), "Maria"),
    (("last_name", "lastname", "surname", "family_name"), "Silva"),
    (("name", "person", "user", "username", "author", "customer"), "Maria Silva"),
    (("email", "mail"), "maria.silva@example.com"),
    (("query", "search", "question", "q", "topic", "keywords"), "opening hours of the museum"),
    (("path", "file", "filename"), "todo.txt"),
    (("unit", "units"), "celsius"),
    (("language", "lang"), "Portuguese"),
    (("currency",), "EUR"),
    (("date", "day"), "2024-05-17"),
    (("time",), "09:30"),
    (("url", "link", "website"), "https://example.com/page"),
    (("title", "subject"), "Weekly report"),
    (("color", "colour"), "green"),
    (("id", "code", "sku", "reference"), "A-1001"),
    (("text", "message", "content", "body", "description", "note"), "Meeting moved to Friday"),
)

_INT_BY_NAME = (
    (("age",), 34),
    (("year",), 2024),
    (("month",), 5),
    (("quantity", "count", "days", "limit", "number", "n", "amount"), 3),
)


_MISSING: Any = object()
_CONSTRAINTS = frozenset(
    {"type", "enum", "const", "anyOf", "oneOf", "allOf", "$ref", "properties", "items", "format",
     "prefixItems", "not", "pattern"}
)  # fmt: skip


def example_value(schema: Any) -> Any:
    """A plausible value valid for ``schema``; ``None`` when no sensible value can be made up
    (a ``pattern`` string, a ``not``)."""
    value = _example(schema, root=schema, name="", depth=0)
    return None if value is _MISSING else value


def _example(schema: Any, *, root: Any, name: str, depth: int) -> Any:
    if schema is True or (isinstance(schema, dict) and not set(schema) & _CONSTRAINTS):
        return _by_name(name, _BY_NAME) or "Lisbon"  # any value
    if not isinstance(schema, dict) or depth > 8:
        return _MISSING
    for key in ("examples",):
        if isinstance(schema.get(key), list) and schema[key]:
            return schema[key][0]
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return _example(_resolve(root, ref), root=root, name=name, depth=depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list):
            for option in options:
                if isinstance(option, dict) and option.get("type") != "null":
                    value = _example(option, root=root, name=name, depth=depth + 1)
                    if value is not _MISSING:
                        return value
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind is None:
        kind = "object" if "properties" in schema else "string" if "format" in schema else None
    maker = _MAKERS.get(kind)  # type: ignore[arg-type]
    if maker is None:
        return None if kind == "null" else _MISSING
    value = maker(schema, root, name, depth)
    return _MISSING if value is None else value


def _resolve(root: Any, ref: str) -> Any:
    if not ref.startswith("#"):
        return None
    node = root
    for part in ref[1:].strip("/").split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _by_name(name: str, table: tuple[tuple[tuple[str, ...], Any], ...]) -> Any:
    key = name.lower()
    for names, value in table:
        if key in names:
            return value
    for names, value in table:
        if any(key.endswith("_" + n) or key.startswith(n + "_") for n in names):
            return value
    return None


def _string(schema: dict[str, Any], root: Any, name: str, depth: int) -> str | None:
    if "pattern" in schema:
        return None
    value = _BY_FORMAT.get(schema.get("format", "")) or _by_name(name, _BY_NAME) or "Lisbon"
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    if high is not None and len(value) > high:
        value = value[:high]
    if len(value) < low:
        value = value + "x" * (low - len(value))
    return str(value)


def _integer(schema: dict[str, Any], root: Any, name: str, depth: int) -> int:
    value = _by_name(name, _INT_BY_NAME) or 3
    return int(_clamp(value, schema))


def _number(schema: dict[str, Any], root: Any, name: str, depth: int) -> float:
    return float(_clamp(_by_name(name, _INT_BY_NAME) or 21.5, schema))


def _clamp(value: float, schema: dict[str, Any]) -> float:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if isinstance(low, int | float) and value <= low:
        value = low + (1 if "exclusiveMinimum" in schema else 0)
    if isinstance(high, int | float) and value >= high:
        value = high - (1 if "exclusiveMaximum" in schema else 0)
    return value


def _array(schema: dict[str, Any], root: Any, name: str, depth: int) -> list[Any] | None:
    if isinstance(schema.get("prefixItems"), list):
        items = [_example(s, root=root, name=name, depth=depth + 1) for s in schema["prefixItems"]]
        return None if any(v is _MISSING for v in items) else items
    item = _example(schema.get("items", {}), root=root, name=name, depth=depth + 1)
    if item is _MISSING:
        return [] if not schema.get("minItems") else None
    return [item] * max(1, int(schema.get("minItems", 1)))


def _object(schema: dict[str, Any], root: Any, name: str, depth: int) -> dict[str, Any] | None:
    properties = schema.get("properties") or {}
    required = schema.get("required") or list(properties)[:2]
    out = {}
    for key in properties:
        if key not in required:
            continue
        value = _example(properties[key], root=root, name=key, depth=depth + 1)
        if value is _MISSING:
            if key in (schema.get("required") or []):
                return None
            continue
        out[key] = value
    return out


_MAKERS = {
    "string": _string,
    "integer": _integer,
    "number": _number,
    "boolean": lambda schema, root, name, depth: True,
    "array": _array,
    "object": _object,
}
