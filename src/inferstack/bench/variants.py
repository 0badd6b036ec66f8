"""Request variants: the same server measured with different request fields in one run.

``inferstack bench --url URL --variant json_schema --variant tools_required`` adds two targets
that point at the first target's server and add their fields to every request, so the report's
ratios compare constrained with unconstrained output on one server, interleaved level by level
under the same machine load.

The presets ask for one free string (``{"answer": ...}``, a ``write_note(text)`` call): the
model writes as long as it likes, and the server closes the JSON within ``max_tokens``. Compare
output tokens per second, and read the token counts in the report: an answer the model closes
early is shorter than the plain one (a ``minLength`` to force the length would make the
budget-safe closing end every answer early instead).
"""

from __future__ import annotations

import json
from typing import Any

from inferstack.bench.client import Target

__all__ = ["PRESETS", "parse_variant", "variant_targets"]

_TEXT: dict[str, Any] = {"type": "string"}

PRESETS: dict[str, dict[str, Any]] = {
    "json_schema": {
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": "answer",
                "schema": {
                    "type": "object",
                    "properties": {"answer": _TEXT},
                    "required": ["answer"],
                    "additionalProperties": False,
                },
            },
        }
    },
    "json_object": {"response_format": {"type": "json_object"}},
    "tools_required": {
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "write_note",
                    "description": "Write a note about the question.",
                    "parameters": {
                        "type": "object",
                        "properties": {"text": _TEXT},
                        "required": ["text"],
                        "additionalProperties": False,
                    },
                },
            }
        ],
        "tool_choice": "required",
    },
}


def parse_variant(spec: str) -> tuple[str, dict[str, Any]]:
    """``NAME`` (a preset) or ``NAME=JSON`` (the fields as a JSON object) → (name, fields)."""
    name, sep, fields = spec.partition("=")
    name = name.strip()
    if not name:
        raise ValueError(f"a variant needs a name: {spec!r}")
    if not sep:
        if name not in PRESETS:
            known = ", ".join(PRESETS)
            raise ValueError(f"unknown variant preset {name!r} (presets: {known}; or NAME=JSON)")
        return name, PRESETS[name]
    try:
        body = json.loads(fields)
    except ValueError as exc:
        raise ValueError(f"variant {name!r}: not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ValueError(f"variant {name!r}: expected a JSON object of request fields")
    return name, body


def variant_targets(specs: list[str], first: Target) -> list[Target]:
    """One target per variant spec: ``first`` again, named after the variant, with its fields."""
    parsed = [parse_variant(spec) for spec in specs]
    return [first.model_copy(update={"name": n, "extra_body": body}) for n, body in parsed]
