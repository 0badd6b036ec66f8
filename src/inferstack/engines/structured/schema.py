"""Compile a JSON schema (the subset structured output supports) into automaton nodes.

Supported: ``type`` (a name or a list), ``properties``, ``required``, ``additionalProperties``,
``items``, ``minItems``, ``maxItems``, ``enum``, ``const``, ``minLength``, ``maxLength``,
``minimum``, ``maximum``, ``exclusiveMinimum``, ``exclusiveMaximum`` (numbers, or draft-4
booleans), ``anyOf`` and ``oneOf`` (both as alternatives: the generated value matches at least
one), ``allOf`` with a single entry, local ``$ref`` (any JSON pointer into the document, so
``#/$defs/...`` and ``#/definitions/...``; recursion allowed), ``nullable`` (OpenAPI), numeric
``format`` (``int32`` bounds the value; ``int64``, ``float``, ``double`` are ignored),
``uniqueItems: false``, and the annotations in :data:`ANNOTATIONS`. Everything else raises
:class:`~inferstack.errors.UnsupportedFeatureError` naming the keyword.

Generation choices: object properties come in declaration order, each optional one skippable;
when an object lists ``properties``, only those are generated even if ``additionalProperties``
allows more; an object without ``properties`` admits arbitrary keys only when
``additionalProperties`` is ``true`` or a schema. A schema without ``type`` is generated as the
type its keywords imply (any JSON value when none does).
"""

from __future__ import annotations

import functools
import json
from typing import Any
from urllib.parse import unquote

from inferstack.engines.structured.graph import finalize
from inferstack.engines.structured.nodes import (
    BIG,
    AnyOfNode,
    ArrayNode,
    LiteralNode,
    Node,
    NumberNode,
    ObjectNode,
    Prop,
    RefNode,
    StringNode,
)
from inferstack.engines.structured.scalars import NUMBER_FORMATS, enum_texts, number_node
from inferstack.errors import InvalidRequestError, UnsupportedFeatureError

__all__ = ["ANNOTATIONS", "SUPPORTED", "compile_schema"]

ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "$schema", "$id", "$comment", "strict",
     "deprecated", "readOnly", "writeOnly", "discriminator", "$defs", "definitions"}
)  # fmt: skip
SUPPORTED = frozenset(
    {"type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems",
     "enum", "const", "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum",
     "exclusiveMaximum", "anyOf", "oneOf", "allOf", "$ref", "nullable", "format"}
)  # fmt: skip
_TYPES = ("object", "array", "string", "number", "integer", "boolean", "null")
_HINTS = (
    ("object", ("properties", "required", "additionalProperties")),
    ("array", ("items", "minItems", "maxItems")),
    ("string", ("minLength", "maxLength")),
    ("number", ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")),
)
_MAX_DEPTH = 64


def compile_schema(schema: dict[str, Any] | None, *, param: str = "response_format") -> Node:
    """Compile ``schema``; None or ``{}`` means any JSON object (``json_object`` mode).

    Raises UnsupportedFeatureError for keywords outside the subset and InvalidRequestError
    for schemas that are not valid JSON Schema or admit no value, both with ``param``.
    Compiled nodes are immutable and cached by the schema's text (key order kept, since it
    is the order properties are generated in): a request's schema is compiled once, not by
    each of validation, prompt rendering and the engine."""
    try:
        text = json.dumps(schema)
    except (TypeError, ValueError):
        return _compile(schema, param)
    return _compile_text(text, param)


@functools.lru_cache(maxsize=256)
def _compile_text(text: str, param: str) -> Node:
    return _compile(json.loads(text), param)


def _compile(schema: Any, param: str) -> Node:
    if schema is None or schema == {}:
        schema = {"type": "object", "additionalProperties": True}
    if not isinstance(schema, dict):
        raise InvalidRequestError("the JSON schema must be an object", param=param)
    compiler = _Compiler(schema, param)
    root = compiler.compile(schema, "#", 0)
    try:
        finalize(root, compiler.nodes)
    except ValueError as exc:
        raise InvalidRequestError(f"invalid JSON schema: {exc}", param=param) from None
    return root


class _Compiler:
    def __init__(self, root: dict[str, Any], param: str) -> None:
        self.root = root
        self.param = param
        self.nodes: list[Node] = []
        self.refs: dict[str, RefNode] = {}
        self._any: AnyOfNode | None = None

    def add(self, node: Node) -> Any:
        self.nodes.append(node)
        return node

    def invalid(self, message: str, path: str) -> InvalidRequestError:
        return InvalidRequestError(f"invalid JSON schema at {path}: {message}", param=self.param)

    def unsupported(self, what: str, path: str) -> UnsupportedFeatureError:
        return UnsupportedFeatureError(
            f"JSON Schema {what} is not supported in structured output (at {path})",
            param=self.param,
        )

    def compile(self, schema: Any, path: str, depth: int) -> Node:
        if depth > _MAX_DEPTH:
            raise self.unsupported(f"nesting deeper than {_MAX_DEPTH} levels", path)
        if schema is True:
            return self.any()
        if not isinstance(schema, dict):
            raise self.invalid("a schema must be an object", path)
        for kw, value in schema.items():
            if kw in ANNOTATIONS or kw.startswith("x-") or (kw == "uniqueItems" and not value):
                continue
            if kw not in SUPPORTED:
                raise self.unsupported(f"keyword {kw!r}", path)
            if kw == "format" and (not isinstance(value, str) or value not in NUMBER_FORMATS):
                raise self.unsupported(f"keyword 'format' ({value!r})", path)
        for kw in ("$ref", "allOf", "anyOf", "oneOf"):
            if kw in schema:
                return self.combinator(schema, kw, path, depth)
        types = self.types(schema, path)
        if "enum" in schema or "const" in schema:
            return self.literal(schema, path)
        if not types:
            return self.any()
        nodes = [getattr(self, f"build_{t}")(schema, path, depth) for t in types]
        return nodes[0] if len(nodes) == 1 else self.add(AnyOfNode(nodes))

    def types(self, schema: dict[str, Any], path: str) -> list[str]:
        kind = schema.get("type")
        if kind is None:
            names = [t for t, kws in _HINTS if any(k in schema for k in kws)]
        else:
            names = [kind] if isinstance(kind, str) else kind
            if not isinstance(names, list) or not names or any(t not in _TYPES for t in names):
                raise self.invalid(f"'type' must name JSON types {_TYPES}, got {kind!r}", path)
        nullable = schema.get("nullable", False)
        if not isinstance(nullable, bool):
            raise self.invalid("'nullable' must be a boolean", path)
        if nullable and names and "null" not in names:
            names = [*names, "null"]
        return list(dict.fromkeys(names))

    def combinator(self, schema: dict[str, Any], kw: str, path: str, depth: int) -> Node:
        others = set(schema) - ANNOTATIONS - {kw, "nullable"}
        if others:
            raise self.unsupported(f"{kw!r} combined with {sorted(others)}", path)
        value = schema[kw]
        if kw == "$ref":
            node = self.ref(value, path, depth)
            alts = [node]
        elif not isinstance(value, list) or not value:
            raise self.invalid(f"{kw!r} must be a non-empty array", path)
        elif kw == "allOf" and len(value) > 1:
            raise self.unsupported("keyword 'allOf' with more than one entry", path)
        else:
            alts = [self.compile(s, f"{path}/{kw}/{i}", depth + 1) for i, s in enumerate(value)]
        if schema.get("nullable") is True:
            alts.append(self.add(LiteralNode(["null"])))
        return alts[0] if len(alts) == 1 else self.add(AnyOfNode(alts))

    def ref(self, ref: Any, path: str, depth: int) -> Node:
        if not isinstance(ref, str):
            raise self.invalid("'$ref' must be a string", path)
        if not ref.startswith("#/") and ref != "#":
            raise self.unsupported(f"'$ref' to {ref!r} (only local '#/...' references)", path)
        node = self.refs.get(ref)
        if node is None:
            node = self.refs[ref] = self.add(RefNode(ref))
            target: Any = self.root
            for part in ref[2:].split("/") if ref != "#" else ():
                key = unquote(part).replace("~1", "/").replace("~0", "~")
                if isinstance(target, dict) and key in target:
                    target = target[key]
                elif isinstance(target, list) and key.isdigit() and int(key) < len(target):
                    target = target[int(key)]
                else:
                    raise self.invalid(f"'$ref' {ref!r} does not resolve", path)
            node.target = self.compile(target, ref, depth + 1)
        return node

    def literal(self, schema: dict[str, Any], path: str) -> Node:
        kinds = None if schema.get("type") is None else self.types(schema, path)
        try:
            texts = enum_texts(schema, kinds, schema.get("nullable") is True)
        except ValueError as exc:
            raise self.invalid(str(exc), path) from None
        return self.add(LiteralNode(texts))

    def any(self) -> Node:
        """Any JSON value (objects with arbitrary keys)."""
        if self._any is None:
            node = self._any = self.add(AnyOfNode(()))
            number = self.add(NumberNode(False, None, None))
            number.min_text = "0"
            node.alts = (
                self.add(ObjectNode((), node)),
                self.add(ArrayNode(node, 0, BIG)),
                self.add(StringNode()),
                number,
                self.add(LiteralNode(["true", "false", "null"])),
            )
        return self._any

    def count(self, schema: dict[str, Any], kw: str, path: str, default: int) -> int:
        value = schema.get(kw, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.invalid(f"{kw!r} must be a non-negative integer", path)
        return value

    def build_object(self, schema: dict[str, Any], path: str, depth: int) -> Node:
        props = schema.get("properties", {})
        required = schema.get("required", [])
        extra_schema = schema.get("additionalProperties")
        if not isinstance(props, dict):
            raise self.invalid("'properties' must be an object", path)
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            raise self.invalid("'required' must be an array of strings", path)
        if extra_schema is not None and not isinstance(extra_schema, bool | dict):
            raise self.invalid("'additionalProperties' must be a boolean or a schema", path)
        extra = None
        if extra_schema is not None and extra_schema is not False:
            extra = self.compile(extra_schema, f"{path}/additionalProperties", depth + 1)
        plist = [
            Prop(name, self.compile(sub, f"{path}/properties/{name}", depth + 1), name in required)
            for name, sub in props.items()
        ]
        for name in dict.fromkeys(required):
            if name not in props:
                if extra_schema is False:
                    raise self.invalid(f"required {name!r} is not an allowed property", path)
                plist.append(Prop(name, extra or self.any(), True))
        return self.add(ObjectNode(plist, None if plist else extra))

    def build_array(self, schema: dict[str, Any], path: str, depth: int) -> Node:
        items = schema.get("items", True)
        if isinstance(items, list):
            raise self.unsupported("keyword 'items' as an array (tuple validation)", path)
        node = self.compile(items, f"{path}/items", depth + 1)
        low, high = (
            self.count(schema, "minItems", path, 0),
            self.count(schema, "maxItems", path, BIG),
        )
        if low > high:
            raise self.invalid("'minItems' is above 'maxItems'", path)
        return self.add(ArrayNode(node, low, high))

    def build_string(self, schema: dict[str, Any], path: str, depth: int) -> Node:
        low, high = (
            self.count(schema, "minLength", path, 0),
            self.count(schema, "maxLength", path, BIG),
        )
        if low > high:
            raise self.invalid("'minLength' is above 'maxLength'", path)
        return self.add(StringNode(low, high))

    def build_number(self, schema: dict[str, Any], path: str, depth: int) -> Node:
        return self.add(self.number(schema, path, integer=False))

    def build_integer(self, schema: dict[str, Any], path: str, depth: int) -> Node:
        return self.add(self.number(schema, path, integer=True))

    def build_boolean(self, schema: dict[str, Any], path: str, depth: int) -> Node:
        return self.add(LiteralNode(["false", "true"]))

    def build_null(self, schema: dict[str, Any], path: str, depth: int) -> Node:
        return self.add(LiteralNode(["null"]))

    def number(self, schema: dict[str, Any], path: str, *, integer: bool) -> NumberNode:
        try:
            return number_node(schema, integer=integer)
        except ValueError as exc:
            raise self.invalid(str(exc), path) from None
