"""The calibration fit (isotonic, smoothed): monotone, bounded, and on held-out synthetic data
where the raw score is miscalibrated it brings the expected calibration error down; the file
format, which fields it covers, and how the pipeline's scores go through it."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from inferstack.errors import InvalidRequestError
from inferstack.idp.calibration import (
    DEFAULT_CALIBRATION,
    Calibration,
    fit_isotonic,
    fit_schema,
    load_calibration,
)
from inferstack.idp.evaluation import expected_calibration_error
from inferstack.idp.schemas import BUILTIN_SCHEMAS
from inferstack.idp.score import FieldScore, calibrate_scores


def _overconfident(n: int, seed: int) -> list[tuple[float, bool]]:
    """Raw scores s whose values are right with probability s**3: a 0.9 is right 73% of the
    time, a 0.5 only 12%."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        s = rng.random()
        pairs.append((s, rng.random() < s**3))
    return pairs


def test_the_fit_is_monotone_and_bounded() -> None:
    fitted = fit_isotonic(_overconfident(500, seed=1))
    assert list(fitted.x) == sorted(fitted.x) and list(fitted.y) == sorted(fitted.y)
    grid = [i / 200 for i in range(-20, 221)]  # beyond [0, 1] too: flat outside the data
    mapped = [fitted(g) for g in grid]
    assert mapped == sorted(mapped)
    assert all(0.0 < m < 1.0 for m in mapped)
    assert fitted.n == 500


def test_the_fit_lowers_held_out_calibration_error_of_an_overconfident_score() -> None:
    fitted = fit_isotonic(_overconfident(2000, seed=2))
    held_out = _overconfident(2000, seed=3)
    raw = expected_calibration_error(held_out)
    calibrated = expected_calibration_error([(fitted(s), ok) for s, ok in held_out])
    assert raw > 0.2  # s**3 against s: far off
    assert calibrated < 0.05 and calibrated < raw / 4
    # and it reads as a probability: values mapped near 0.5 are right about half the time
    near = [ok for s, ok in held_out if 0.4 <= fitted(s) <= 0.6]
    assert len(near) > 50 and 0.35 < sum(near) / len(near) < 0.65


def test_ties_pool_and_certainty_is_smoothed() -> None:
    fitted = fit_isotonic([(0.7, True)] * 8 + [(0.7, False)] * 2)
    assert fitted.x == (0.7,) and fitted(0.0) == fitted(1.0) == pytest.approx(9 / 12)
    always = fit_isotonic([(0.9, True)] * 30 + [(0.1, False)] * 30)
    assert always(0.95) == pytest.approx(31 / 32) and always(0.05) == pytest.approx(1 / 32)
    with pytest.raises(ValueError):
        fit_isotonic([])


def test_fields_with_enough_values_get_their_own_map() -> None:
    samples = [("number", s, ok) for s, ok in _overconfident(80, seed=4)]
    samples += [("currency", 0.9, True)] * 10
    entry = fit_schema(samples, "m", "test", min_field_pairs=50)
    assert set(entry.fields) == {"number"}
    assert entry.map_for("currency") is entry.overall
    assert entry.overall.n == 90


def test_a_file_covers_only_its_schema_and_model_and_round_trips(tmp_path: Path) -> None:
    entry = fit_schema([("a", 0.9, True), ("a", 0.2, False)], "gemma", "two values")
    path = tmp_path / "cal.json"
    Calibration({"invoice": entry}).write(path)
    loaded = Calibration.read(path)
    assert loaded.source == str(path) and loaded.schemas["invoice"].to_dict() == entry.to_dict()
    assert loaded.apply("invoice", "a", 0.9, "gemma") == pytest.approx(entry.overall(0.9))
    assert loaded.apply("receipt", "a", 0.9, "gemma") is None
    assert loaded.apply("invoice", "a", 0.9, "another-model") is None
    assert load_calibration("none") is None
    assert load_calibration(str(path)).schemas.keys() == {"invoice"}  # type: ignore[union-attr]


def test_a_broken_file_is_a_client_mistake_naming_calibration(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    for text in (
        "not json",
        json.dumps({"version": 99, "schemas": {}}),
        json.dumps({"version": 1, "schemas": {"x": {"overall": {"x": [0.5, 0.1], "y": [0, 1]}}}}),
    ):
        bad.write_text(text)
        with pytest.raises(InvalidRequestError) as exc:
            Calibration.read(bad)
        assert exc.value.param == "calibration"
    with pytest.raises(InvalidRequestError):
        load_calibration(str(tmp_path / "missing.json"))


def test_the_shipped_map_covers_every_invoice_field_for_the_default_model() -> None:
    shipped = load_calibration(DEFAULT_CALIBRATION)
    assert shipped is not None and shipped.source == DEFAULT_CALIBRATION
    entry = shipped.schemas["invoice"]
    # the id the packaged default model reports (inferstack serve --model default)
    assert entry.model == "gemma-3-270m" and "generated with seed" in entry.fitted_on
    assert set(entry.fields) <= set(BUILTIN_SCHEMAS["invoice"]["properties"])
    for name in BUILTIN_SCHEMAS["invoice"]["properties"]:
        m = entry.map_for(name)
        assert m.n >= 50 and 0.0 < m(0.0) <= m(1.0) < 1.0


def test_scores_are_mapped_except_those_a_validator_failed() -> None:
    entry = fit_schema([("a", 0.9, True), ("a", 0.2, False)] * 30, "m", "t")
    calibration = Calibration({"invoice": entry})
    kept = FieldScore("a", "x", 0.9, 1.0, 0.9, None, None)
    refuted = FieldScore("a", "y", 0.0, 1.0, 0.9, None, None, validation_failed=True)
    calibrate_scores([kept, refuted], calibration, "invoice", "m")
    assert kept.calibrated and kept.raw_confidence == 0.9
    assert kept.confidence == pytest.approx(31 / 32)
    assert not refuted.calibrated and refuted.confidence == 0.0
    other = FieldScore("a", "x", 0.9, 1.0, 0.9, None, None)
    calibrate_scores([other], calibration, "invoice", "another-model")
    assert not other.calibrated and other.confidence == 0.9
    assert other.to_dict()["raw_confidence"] == 0.9 and other.to_dict()["calibrated"] is False


def test_a_map_covers_only_the_reader_it_was_fitted_on(tmp_path: Path) -> None:
    """Vision-read scores lack the OCR factor: an OCR map must not remap them, nor the other way
    round; files written before the reader was recorded are OCR maps."""
    pairs = [("a", 0.9, True), ("a", 0.2, False)]
    vision = fit_schema(pairs, "m", "vision-read set", reader="vision")
    path = tmp_path / "cal.json"
    Calibration({"invoice": vision}).write(path)
    loaded = Calibration.read(path)
    assert loaded.schemas["invoice"].reader == "vision"
    assert loaded.apply("invoice", "a", 0.9, "m", "vision") == pytest.approx(vision.overall(0.9))
    assert loaded.apply("invoice", "a", 0.9, "m", "ocr") is None
    assert loaded.apply("invoice", "a", 0.9, "m") is None  # the default reader is ocr
    old = json.loads(path.read_text())
    del old["schemas"]["invoice"]["reader"]
    path.write_text(json.dumps(old))
    before = Calibration.read(path)
    assert before.schemas["invoice"].reader == "ocr"
    score = FieldScore("a", "x", 0.9, 1.0, None, None, None)
    calibrate_scores([score], before, "invoice", "m", "vision")
    assert not score.calibrated and score.confidence == 0.9
    shipped = load_calibration(DEFAULT_CALIBRATION)
    assert shipped is not None and shipped.schemas["invoice"].reader == "ocr"
