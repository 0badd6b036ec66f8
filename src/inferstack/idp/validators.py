"""Verification: validators look at the extracted values and name the fields they doubt, with
a reason. A failed check sets that field's confidence to 0, so the document goes to review.

Built in: ISO dates, date order (a birth before its registration, a document's birth before its
expiry) and lookup against a reference table. Any callable ``values -> list[Failure]`` works.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date
from typing import Any

from inferstack.idp.schemas import BUILTIN_SCHEMAS, date_fields
from inferstack.idp.score import FieldScore

__all__ = [
    "DEFAULT_VALIDATORS",
    "Failure",
    "Validator",
    "apply_validators",
    "date_order",
    "iso_date",
    "one_of",
]


@dataclass(frozen=True)
class Failure:
    field: str
    reason: str


Validator = Callable[[dict[str, Any]], list[Failure]]


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def date_order(earlier: str, later: str) -> Validator:
    """``earlier`` must be a date on or before ``later`` (both YYYY-MM-DD)."""

    def check(values: dict[str, Any]) -> list[Failure]:
        if earlier not in values or later not in values:
            return []
        a, b = _date(values[earlier]), _date(values[later])
        failures = []
        if a is not None and b is not None and a > b:
            failures.append(Failure(later, f"{later} {b} is before {earlier} {a}"))
        return failures

    return check


def one_of(name: str, allowed: Collection[str]) -> Validator:
    """``name`` must be one of ``allowed`` (a reference table; compared case-insensitively)."""
    table = {a.casefold() for a in allowed}

    def check(values: dict[str, Any]) -> list[Failure]:
        value = values.get(name)
        if isinstance(value, str) and value.casefold() not in table:
            return [Failure(name, f"{name} {value!r} is not in the reference table")]
        return []

    return check


def iso_date(name: str) -> Validator:
    """``name`` must be a calendar date written YYYY-MM-DD."""

    def check(values: dict[str, Any]) -> list[Failure]:
        value = values.get(name)
        if value is not None and _date(value) is None:
            return [Failure(name, f"{name} {value!r} is not a YYYY-MM-DD date")]
        return []

    return check


def _defaults() -> dict[str, list[Validator]]:
    table: dict[str, list[Validator]] = {
        name: [iso_date(f) for f in date_fields(schema)] for name, schema in BUILTIN_SCHEMAS.items()
    }
    table["birth_certificate"].append(date_order("date_of_birth", "registration_date"))
    table["identity_document"].append(date_order("date_of_birth", "expiry_date"))
    return table


DEFAULT_VALIDATORS: dict[str, list[Validator]] = _defaults()


def apply_validators(
    scores: list[FieldScore], values: dict[str, Any], validators: list[Validator]
) -> list[Failure]:
    """Run ``validators``; each failure adds its reason to the field and zeroes its confidence
    (raw and calibrated: no calibration lifts a value a check has refuted)."""
    by_name = {s.name: s for s in scores}
    failures = [f for v in validators for f in v(values)]
    for failure in failures:
        score = by_name.get(failure.field)
        if score is not None:
            score.reasons.append(failure.reason)
            score.confidence = score.raw_confidence = 0.0
            score.validation_failed = True
    return failures
