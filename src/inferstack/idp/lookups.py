"""Validators from settings: reference tables (allowed values per field) and HTTP lookup
services, both keyed ``schema.field``. A lookup service gets ``POST {schema, field, value,
values}`` and answers ``{"valid": true}`` or ``{"valid": false, "reason": "..."}``; a service
that cannot be reached, times out or answers anything else refutes the field (the document
goes to review with that reason): a check that did not run never passes silently."""

from __future__ import annotations

from typing import Any

import httpx

from inferstack.idp.settings import IdpSettings
from inferstack.idp.validators import DEFAULT_VALIDATORS, Failure, Validator, one_of

__all__ = ["configured_validators", "http_lookup"]


def http_lookup(schema_name: str, name: str, url: str, timeout: float) -> Validator:
    """Ask the service at ``url`` whether field ``name``'s value is valid."""

    def check(values: dict[str, Any]) -> list[Failure]:
        value = values.get(name)
        if value is None:
            return []
        body = {"schema": schema_name, "field": name, "value": value, "values": values}
        try:
            response = httpx.post(url, json=body, timeout=timeout)
        except httpx.HTTPError as exc:
            return [Failure(name, f"{name}: lookup service {url} unreachable ({exc})")]
        try:
            answer = response.json() if response.status_code == 200 else None
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or not isinstance(answer.get("valid"), bool):
            return [Failure(name, f"{name}: lookup service {url} answered {response.status_code}")]
        if answer["valid"]:
            return []
        reason = str(answer.get("reason") or "rejected")[:300]
        return [Failure(name, f"{name} {value!r}: {reason} (lookup {url})")]

    return check


def _split(key: str) -> tuple[str, str]:
    schema_name, _, name = key.partition(".")
    return schema_name, name


def configured_validators(settings: IdpSettings) -> dict[str, list[Validator]]:
    """The built-in validators plus the settings' reference tables and lookups."""
    table = {name: list(validators) for name, validators in DEFAULT_VALIDATORS.items()}
    for key, allowed in settings.reference_tables.items():
        schema_name, name = _split(key)
        table.setdefault(schema_name, []).append(one_of(name, allowed))
    for key, url in settings.lookup_urls.items():
        schema_name, name = _split(key)
        table.setdefault(schema_name, []).append(
            http_lookup(schema_name, name, url, settings.lookup_timeout)
        )
    return table
