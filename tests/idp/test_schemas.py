"""Built-in schemas and user schema files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from inferstack.errors import InvalidRequestError
from inferstack.idp.schemas import BUILTIN_SCHEMAS, load_schema, schema_fields


def test_builtin_schemas_are_valid_closed_object_schemas() -> None:
    assert set(BUILTIN_SCHEMAS) == {"invoice", "receipt", "birth_certificate", "identity_document"}
    for name, schema in BUILTIN_SCHEMAS.items():
        Draft202012Validator.check_schema(schema)
        assert load_schema(name) == (name, schema)
        assert schema["required"] == schema_fields(schema)
        assert schema["additionalProperties"] is False


def test_user_schema_file_and_its_mistakes(tmp_path: Path) -> None:
    good = tmp_path / "po.json"
    good.write_text(
        json.dumps({"title": "po", "type": "object", "properties": {"po": {"type": "string"}}})
    )
    assert load_schema(str(good))[0] == "po"
    for text in (
        "not json",
        json.dumps({"type": "array"}),
        json.dumps({"type": "object", "properties": {"a": {"type": "nope"}}}),
    ):
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        with pytest.raises(InvalidRequestError) as exc:
            load_schema(str(bad))
        assert exc.value.param == "schema"
    with pytest.raises(InvalidRequestError) as exc:
        load_schema("passport-of-mars")
    assert exc.value.param == "schema"
