"""Validators add reasons and send the document to review."""

from __future__ import annotations

from inferstack.idp.decide import PENDING, decide
from inferstack.idp.score import FieldScore
from inferstack.idp.validators import (
    DEFAULT_VALIDATORS,
    apply_validators,
    date_order,
    iso_date,
    one_of,
)


def _scores(values: dict[str, str]) -> list[FieldScore]:
    return [FieldScore(k, v, 0.99, 1.0, 0.99, None, None) for k, v in values.items()]


def test_a_birth_registered_before_it_happened_goes_to_review() -> None:
    values = {"date_of_birth": "2020-05-01", "registration_date": "2020-04-01"}
    scores = _scores(values)
    failures = apply_validators(scores, values, DEFAULT_VALIDATORS["birth_certificate"])
    assert [f.field for f in failures] == ["registration_date"]
    assert scores[1].confidence == 0.0 and "before date_of_birth" in scores[1].reasons[0]
    assert scores[0].confidence == 0.99
    decision = decide(scores, 0.8)
    assert decision.status == PENDING and "registration_date" in decision.reasons[0]


def test_good_order_passes_and_non_dates_and_lookups_fail() -> None:
    check = date_order("a", "b")
    assert check({"a": "2020-01-01", "b": "2020-01-01"}) == []
    assert check({"a": "2020-02-30", "b": "2020-01-01"}) == []  # iso_date's job
    assert [f.field for f in iso_date("a")({"a": "2020-02-30"})] == ["a"]
    assert iso_date("a")({"a": "2020-02-28"}) == []
    invoice = DEFAULT_VALIDATORS["invoice"]
    assert [f.field for v in invoice for f in v({"invoice_date": "15.03.2024"})] == ["invoice_date"]
    assert check({"a": "2020-01-01"}) == []
    city = one_of("place_of_birth", ["Lyon", "Porto"])
    assert city({"place_of_birth": "lyon"}) == []
    assert city({"place_of_birth": "Atlantis"})[0].reason.endswith("reference table")


def test_a_refuted_field_goes_to_review_whatever_the_threshold() -> None:
    values = {"date_of_birth": "2020-05-01", "registration_date": "2020-04-01"}
    scores = _scores(values)
    apply_validators(scores, values, DEFAULT_VALIDATORS["birth_certificate"])
    decision = decide(scores, 0.0)
    assert decision.status == PENDING
    assert decision.reasons == [
        "registration_date: refuted (registration_date 2020-04-01 is before date_of_birth "
        "2020-05-01)"
    ]
