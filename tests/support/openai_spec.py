"""Validate response bodies against OpenAI's published OpenAPI schemas.

``openai_schemas.json`` next to this file holds the ``components/schemas`` of
openai/openai-openapi's ``openapi.json`` (MIT licence) that the response types below reach,
descriptions dropped (the full 3.4 MB file is not needed in the repository). OpenAPI 3.0's
``nullable: true`` becomes a JSON-Schema ``null`` type here before validating.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = ["assert_openai", "openai_errors"]

_FILE = Path(__file__).with_name("openai_schemas.json")
_ROOT = "urn:openai-openapi"


def _nullable(node: Any) -> Any:
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _nullable(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        elif "type" not in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def _registry() -> Registry:
    document = _nullable(json.loads(_FILE.read_text()))
    resource = Resource(contents=document, specification=DRAFT202012)
    return Registry().with_resource(_ROOT, resource)


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = {"$ref": f"{_ROOT}#/components/schemas/{name}"}
    return jsonschema.Draft202012Validator(schema, registry=_registry())


def openai_errors(instance: Any, schema: str) -> list[str]:
    """Every way ``instance`` breaks OpenAI's ``schema`` (empty when it conforms)."""
    found = _validator(schema).iter_errors(copy.deepcopy(instance))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in found]


def assert_openai(instance: Any, schema: str) -> None:
    """Fail unless ``instance`` validates against ``components/schemas/<schema>``."""
    errors = openai_errors(instance, schema)
    assert not errors, f"not a valid {schema}: {errors[:5]}"
