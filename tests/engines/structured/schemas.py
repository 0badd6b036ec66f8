"""Schemas shared by the structured-output tests (nested, enums, bounds, anyOf, $ref, tools)."""

from __future__ import annotations

from typing import Any

from inferstack.engines.structured import tool_call_schema

WEATHER: dict[str, Any] = {
    "type": "object",
    "properties": {
        "location": {"type": "string", "minLength": 2, "maxLength": 12},
        "unit": {"enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 14},
        "hourly": {"type": "boolean"},
    },
    "required": ["location", "unit"],
    "additionalProperties": False,
}

ORDER: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer", "exclusiveMinimum": 100, "maximum": 100000},
        "customer": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "email": {"type": ["string", "null"]},
                "vip": {"type": "boolean", "default": False},
            },
            "required": ["name"],
        },
        "items": {
            "type": "array",
            "minItems": 2,
            "maxItems": 4,
            "items": {
                "type": "object",
                "properties": {
                    "sku": {"const": "SKU-1"},
                    "qty": {"type": "integer", "minimum": -3, "maximum": 7},
                    "price": {"type": "number", "minimum": 0.5, "exclusiveMaximum": 99.5},
                },
                "required": ["sku", "qty", "price"],
            },
        },
        "note": {"type": "string", "maxLength": 3},
    },
    "required": ["id", "customer", "items"],
}

NUMBERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "neg": {"type": "number", "minimum": -7.25, "maximum": -0.125},
        "tiny": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.001},
        "big": {"type": "integer", "minimum": 123456, "maximum": 123999},
        "exact": {"type": "number", "minimum": 2.5, "maximum": 2.5},
        "any": {"type": "number"},
        "odd": {"enum": [1, 10, 100, -5, 2.5]},
    },
    "required": ["neg", "tiny", "big", "exact", "any", "odd"],
}

UNION: dict[str, Any] = {
    "anyOf": [
        {
            "type": "object",
            "properties": {"kind": {"const": "circle"}, "r": {"type": "number", "minimum": 0}},
            "required": ["kind", "r"],
        },
        {
            "type": "object",
            "properties": {
                "kind": {"const": "rect"},
                "w": {"type": "integer", "minimum": 1},
                "h": {"type": "integer", "minimum": 1},
            },
            "required": ["kind", "w", "h"],
        },
        {"type": "array", "items": {"type": ["integer", "string"], "maxLength": 4}, "minItems": 1},
    ]
}

TREE: dict[str, Any] = {
    "$defs": {
        "Node": {
            "type": "object",
            "title": "Node",
            "properties": {
                "value": {"type": "integer", "minimum": 0, "maximum": 9},
                "label": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}, "maxItems": 3},
            },
            "required": ["value", "children"],
        }
    },
    "type": "object",
    "properties": {"root": {"$ref": "#/$defs/Node"}, "depth": {"type": "integer"}},
    "required": ["root"],
}

PYDANTIC_TOOL_PARAMS: dict[str, Any] = {
    "$defs": {
        "Address": {
            "properties": {
                "street": {"title": "Street", "type": "string"},
                "zip": {"title": "Zip", "type": "string", "minLength": 5, "maxLength": 5},
            },
            "required": ["street", "zip"],
            "title": "Address",
            "type": "object",
        }
    },
    "properties": {
        "to": {"$ref": "#/$defs/Address"},
        "priority": {"enum": ["low", "high"], "title": "Priority", "type": "string"},
        "weight": {"type": "number", "minimum": 0, "maximum": 30},
    },
    "required": ["to", "priority"],
    "title": "ShipArgs",
    "type": "object",
}

TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}},
    {"type": "function", "function": {"name": "ship", "parameters": PYDANTIC_TOOL_PARAMS}},
    {"type": "function", "function": {"name": "ping"}},
]

TOOL_CALLS = tool_call_schema(TOOLS, choice="required", parallel=True, max_calls=3)

ALL: dict[str, dict[str, Any] | None] = {
    "weather": WEATHER,
    "order": ORDER,
    "numbers": NUMBERS,
    "union": UNION,
    "tree": TREE,
    "json_object": None,
    "tool_calls": TOOL_CALLS,
    "one_tool": tool_call_schema(TOOLS, choice="ship", parallel=False),
}
