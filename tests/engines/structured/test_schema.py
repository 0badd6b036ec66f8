"""compile_schema: the supported subset, unsupported keywords (400 naming them), invalid schemas."""

from __future__ import annotations

from typing import Any

import pytest

from inferstack.engines.structured import compile_schema
from inferstack.errors import InvalidRequestError, UnsupportedFeatureError

OBJ = {"type": "object", "properties": {"a": {"type": "string"}}}


@pytest.mark.parametrize(
    ("keyword", "schema"),
    [
        ("pattern", {"type": "string", "pattern": "^a+$"}),
        ("format", {"type": "string", "format": "date-time"}),
        ("allOf", {"allOf": [{"type": "object"}, {"required": ["a"]}]}),
        ("if", {"if": {"type": "string"}, "then": {"minLength": 1}}),
        ("not", {"not": {"type": "null"}}),
        ("patternProperties", {"type": "object", "patternProperties": {"^x": {}}}),
        ("dependentRequired", {"type": "object", "dependentRequired": {"a": ["b"]}}),
        ("uniqueItems", {"type": "array", "uniqueItems": True}),
        ("multipleOf", {"type": "number", "multipleOf": 2}),
        ("prefixItems", {"type": "array", "prefixItems": [{"type": "string"}]}),
        ("minProperties", {"type": "object", "minProperties": 1}),
        ("items", {"type": "array", "items": [{"type": "string"}]}),
        ("$ref", {"$ref": "https://example.com/schema.json"}),
        ("anyOf", {"type": "object", "anyOf": [{"required": ["a"]}]}),
        ("pattern", {**OBJ, "properties": {"a": {"type": "string", "pattern": "x"}}}),
        ("contains", {"type": "array", "items": {"contains": {"type": "string"}}}),
    ],
)
def test_unsupported_keywords_raise_naming_them(keyword: str, schema: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedFeatureError) as info:
        compile_schema(schema)
    assert keyword in info.value.message
    assert info.value.param == "response_format"
    assert info.value.status == 400
    with pytest.raises(UnsupportedFeatureError) as info:
        compile_schema(schema, param="tools.0.function.parameters")
    assert info.value.param == "tools.0.function.parameters"


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "str"},
        {"type": []},
        {"type": ["string", "text"]},
        {"type": "object", "required": "a"},
        {"type": "object", "required": [1]},
        {"type": "object", "properties": ["a"]},
        {"type": "object", "additionalProperties": 3},
        {"enum": []},
        {"enum": "a"},
        {"type": "string", "enum": [1, 2]},
        {"type": "array", "minItems": -1},
        {"type": "array", "minItems": 3, "maxItems": 2},
        {"type": "string", "minLength": 2, "maxLength": 1},
        {"type": "string", "maxLength": "3"},
        {"type": "integer", "minimum": "1"},
        {"type": "integer", "minimum": 5, "maximum": 4},
        {"type": "integer", "exclusiveMinimum": 1, "exclusiveMaximum": 2},
        {"type": "number", "minimum": 1e20},
        {"$ref": "#/$defs/Missing"},
        {"type": "object", "properties": {}, "required": ["x"], "additionalProperties": False},
        {"$defs": {"A": {"$ref": "#/$defs/A"}}, "$ref": "#/$defs/A"},
        {  # a required property that recurses forever has no finite value
            "$defs": {
                "L": {
                    "type": "object",
                    "properties": {"n": {"$ref": "#/$defs/L"}},
                    "required": ["n"],
                }
            },
            "$ref": "#/$defs/L",
        },
        {"type": "object", "properties": {"a": 3}},
        {"type": "object", "nullable": "yes"},
    ],
)
def test_invalid_schemas_raise_invalid_request(schema: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequestError) as info:
        compile_schema(schema, param="tools.2.function.parameters")
    assert type(info.value) is InvalidRequestError
    assert info.value.param == "tools.2.function.parameters"


def test_schema_that_is_not_an_object_is_invalid() -> None:
    with pytest.raises(InvalidRequestError):
        compile_schema(["type", "object"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("schema", "minimal"),
    [
        (None, "{}"),
        ({}, "{}"),
        ({"type": "string", "minLength": 3}, '"aaa"'),
        ({"type": "integer", "minimum": 7}, "7"),
        ({"type": "integer", "exclusiveMinimum": 7}, "8"),
        ({"type": "integer", "maximum": -12}, "-12"),
        ({"type": "number", "exclusiveMinimum": 0, "maximum": 0.5}, "0.1"),
        ({"type": "number", "minimum": 2.25, "maximum": 2.25}, "2.25"),
        ({"type": "number", "minimum": 0, "exclusiveMinimum": True}, "1"),  # draft 4
        ({"type": "integer", "format": "int32", "minimum": -(2**40)}, "0"),
        ({"type": "boolean"}, "false"),
        ({"type": "null"}, "null"),
        ({"type": ["null", "string"]}, '""'),  # the shortest alternative
        ({"type": "integer", "nullable": True, "minimum": 10}, "10"),
        ({"type": "integer", "nullable": True, "minimum": 100000}, "null"),
        ({"enum": ["b", "a"]}, '"b"'),
        ({"const": {"x": [1, 2]}}, '{"x":[1,2]}'),
        ({"type": "array", "items": {"type": "integer", "minimum": 3}, "minItems": 2}, "[3,3]"),
        (
            {
                "type": "object",
                "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
                "required": ["b"],
            },
            '{"b":""}',
        ),
        ({"anyOf": [{"type": "string", "minLength": 4}, {"type": "integer"}]}, "0"),
        ({"allOf": [{"type": "boolean"}], "description": "one entry is fine"}, "false"),
        ({"type": "object", "required": ["k"]}, '{"k":0}'),
        (
            {
                "title": "T",
                "description": "d",
                "default": 1,
                "examples": [1],
                "$id": "x",
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "strict": True,
                "x-extension": 1,
                "deprecated": False,
                "type": "integer",
                "uniqueItems": False,
                "format": "int64",
                "$comment": "annotations are ignored",
            },
            "0",
        ),
    ],
)
def test_supported_schemas_compile_to_minimal_values(schema: Any, minimal: str) -> None:
    assert compile_schema(schema).min_text == minimal


def test_recursive_refs_compile_with_definitions_and_root_pointer() -> None:
    tree = {
        "definitions": {"T": {"type": "object", "properties": {
            "kids": {"type": "array", "items": {"$ref": "#/definitions/T"}}}}},
        "$ref": "#/definitions/T",
    }  # fmt: skip
    assert compile_schema(tree).min_text == "{}"
    root_ref = {"type": "object", "properties": {"next": {"$ref": "#"}}}
    assert compile_schema(root_ref).min_text == "{}"


def test_branches_without_finite_values_are_pruned() -> None:
    loop = {"type": "object", "properties": {"again": {"$ref": "#/$defs/L"}}, "required": ["again"]}
    schema = {
        "$defs": {"L": loop},
        "type": "object",
        "properties": {"maybe": {"$ref": "#/$defs/L"}, "n": {"type": "integer"}},
    }
    node = compile_schema(schema)
    assert [p.name for p in node.props] == ["n"]  # type: ignore[attr-defined]
