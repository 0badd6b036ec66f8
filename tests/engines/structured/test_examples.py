"""Example values for the fallback transcript's worked tool call: realistic and valid."""

from __future__ import annotations

import jsonschema
import pytest

from engines.structured.corpus import schemas
from inferstack.engines.structured import example_value

FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER


@pytest.mark.parametrize(("name", "schema"), schemas())
def test_examples_validate_against_their_schema(name: str, schema: dict) -> None:
    value = example_value(schema)
    if name in ("Code", "Sku", "Address", "Customer", "Order", "Inventory", "Frozenset"):
        # a ``pattern`` string (or a set): nothing sensible to make up
        assert value is None or jsonschema.validate(value, schema, format_checker=FORMATS) is None
        return
    assert value is not None
    jsonschema.validate(value, schema, format_checker=FORMATS)


def test_values_are_realistic_not_empty() -> None:
    weather = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
        "required": ["city", "days"],
    }
    assert example_value(weather) == {"city": "Lisbon", "days": 3}
    person = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer"},
            "email": {"type": "string", "format": "email"},
        },
        "required": ["name", "age", "email"],
    }
    assert example_value(person) == {
        "name": "Maria Silva",
        "age": 34,
        "email": "maria.silva@example.com",
    }
    assert example_value({"enum": ["celsius", "fahrenheit"]}) == "celsius"
    assert example_value({"type": "string", "examples": ["Oslo"]}) == "Oslo"
