"""The schemas documents are extracted to: built-in ones (invoice, receipt, birth certificate,
identity document) and any JSON Schema object a user supplies as a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from inferstack.errors import InvalidRequestError

__all__ = ["BUILTIN_SCHEMAS", "date_fields", "load_schema", "schema_fields"]


def _text(description: str, max_length: int = 48) -> dict[str, Any]:
    return {"type": "string", "description": description, "maxLength": max_length}


def _date(description: str) -> dict[str, Any]:
    # NOTE: the server's grammar has no 'pattern'; the length holds the shape and the
    # iso_date validator checks the calendar date.
    return {"type": "string", "description": description, "minLength": 10, "maxLength": 10}


def _object(title: str, properties: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "title": title,
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


BUILTIN_SCHEMAS: dict[str, dict[str, Any]] = {
    "invoice": _object(
        "invoice",
        {
            "invoice_number": _text("The invoice number.", 32),
            "invoice_date": _date("Date of issue, YYYY-MM-DD."),
            "vendor_name": _text("Who issued the invoice."),
            "total_amount": _text("The total to pay, digits with a decimal point.", 16),
            "currency": _text("ISO 4217 currency code, e.g. EUR.", 3),
        },
    ),
    "receipt": _object(
        "receipt",
        {
            "merchant_name": _text("The shop or merchant."),
            "receipt_date": _date("Date of purchase, YYYY-MM-DD."),
            "total_amount": _text("The total paid, digits with a decimal point.", 16),
            "payment_method": _text("Cash, card, ...", 16),
        },
    ),
    "birth_certificate": _object(
        "birth_certificate",
        {
            "full_name": _text("Name of the child."),
            "date_of_birth": _date("Date of birth, YYYY-MM-DD."),
            "place_of_birth": _text("City of birth."),
            "registration_date": _date("Date of registration, YYYY-MM-DD."),
            "certificate_number": _text("The certificate or registration number.", 32),
        },
    ),
    "identity_document": _object(
        "identity_document",
        {
            "document_number": _text("The document number.", 32),
            "surname": _text("Family name."),
            "given_names": _text("Given names."),
            "date_of_birth": _date("Date of birth, YYYY-MM-DD."),
            "nationality": _text("Nationality.", 32),
            "expiry_date": _date("Date of expiry, YYYY-MM-DD."),
        },
    ),
}


def load_schema(name_or_path: str) -> tuple[str, dict[str, Any]]:
    """``(name, schema)`` of a built-in schema name or a JSON Schema file (an object schema)."""
    if name_or_path in BUILTIN_SCHEMAS:
        return name_or_path, BUILTIN_SCHEMAS[name_or_path]
    path = Path(name_or_path)
    if not path.is_file():
        raise InvalidRequestError(
            f"unknown schema {name_or_path!r}: use one of {', '.join(BUILTIN_SCHEMAS)} "
            "or a JSON Schema file",
            param="schema",
        )
    try:
        schema = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidRequestError(f"{path}: not a JSON file ({exc})", param="schema") from exc
    if (
        not isinstance(schema, dict)
        or schema.get("type") != "object"
        or not isinstance(schema.get("properties"), dict)
    ):
        raise InvalidRequestError(
            f"{path}: a schema must be an object schema with 'properties'", param="schema"
        )
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise InvalidRequestError(
            f"{path}: invalid JSON Schema: {exc.message}", param="schema"
        ) from exc
    return str(schema.get("title") or path.stem), schema


def date_fields(schema: dict[str, Any]) -> list[str]:
    """Fields the built-in schemas hold as YYYY-MM-DD dates."""
    return [
        n for n, spec in schema["properties"].items() if "YYYY-MM-DD" in spec.get("description", "")
    ]


def schema_fields(schema: dict[str, Any]) -> list[str]:
    """The top-level field names, in schema order: each is scored and reviewed on its own."""
    return list(schema["properties"])
