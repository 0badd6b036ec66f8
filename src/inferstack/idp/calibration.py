"""Calibration: a monotone map from a field's raw score (evidence agreement x OCR confidence x
token probability) to the probability that the value is right, fitted on a labelled set, so a
calibrated 0.9 means right nine times in ten on documents like those it was fitted on.

The fit is isotonic regression (pool-adjacent-violators) of correctness on the raw score,
with each pooled block's rate smoothed as (right + 1) / (n + 2) so a block that was always right
(or always wrong) on a few documents claims neither certainty, pooled again to stay monotone.
Between block centres the map is linear; outside them it is flat. A field with at least
:data:`MIN_FIELD_PAIRS` labelled values gets its own map, the others share the schema's.

A calibration file (``inferstack idp calibrate``) holds maps per schema, with the model they
were fitted with, the reader the pages were read by (``ocr``, or ``vision``: its raw scores
lack the OCR factor, so a map fitted on one reader means nothing for the other) and what they
were fitted on; a field is calibrated only when its schema is in the file and the model and
reader match, and says so (``"calibrated": true``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from inferstack.errors import InvalidRequestError

__all__ = [
    "DEFAULT_CALIBRATION",
    "MIN_FIELD_PAIRS",
    "Calibration",
    "IsotonicMap",
    "SchemaCalibration",
    "fit_isotonic",
    "fit_schema",
    "load_calibration",
]

# Fewer labelled values than this and a field shares its schema's map.
MIN_FIELD_PAIRS = 50
FORMAT_VERSION = 1
# The map shipped with inferstack (see docs/idp.md for what it was fitted on).
DEFAULT_CALIBRATION = "default"
_SHIPPED = "invoice-default-model.json"


@dataclass(frozen=True)
class IsotonicMap:
    """A non-decreasing piecewise-linear map through ``(x[i], y[i])``; ``n`` pairs fitted."""

    x: tuple[float, ...]
    y: tuple[float, ...]
    n: int

    def __call__(self, raw: float) -> float:
        return float(np.interp(raw, self.x, self.y))

    def to_dict(self) -> dict[str, Any]:
        return {"x": [round(v, 6) for v in self.x], "y": [round(v, 6) for v in self.y], "n": self.n}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IsotonicMap:
        x, y = tuple(float(v) for v in data["x"]), tuple(float(v) for v in data["y"])
        if not x or len(x) != len(y) or list(x) != sorted(x) or list(y) != sorted(y):
            raise ValueError("x and y must be equally long, non-empty and non-decreasing")
        if not all(0.0 <= v <= 1.0 for v in y):
            raise ValueError("y must lie in [0, 1]")
        return cls(x, y, int(data["n"]))


def _pool(values: np.ndarray, weights: np.ndarray) -> list[list[float]]:
    """Pool-adjacent-violators: blocks of [weighted mean, weight, first index, last index].
    Neighbours with equal means are pooled too, so a block is as large as the data allows
    (the smoothing below would otherwise lift every lone wrong value to 1/3)."""
    blocks: list[list[float]] = []
    for i, (v, w) in enumerate(zip(values, weights, strict=True)):
        blocks.append([float(v), float(w), i, i])
        while len(blocks) > 1 and blocks[-2][0] >= blocks[-1][0]:
            v2, w2, _, last = blocks.pop()
            v1, w1, first, _ = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, first, last])
    return blocks


def fit_isotonic(pairs: Sequence[tuple[float, bool]]) -> IsotonicMap:
    """Fit P(right | raw score) to ``pairs`` of (raw score, was the value right)."""
    if not pairs:
        raise ValueError("no labelled values to fit")
    ordered = sorted(pairs, key=lambda p: p[0])
    raw = np.array([p[0] for p in ordered], dtype=float)
    right = np.array([float(p[1]) for p in ordered])
    # Equal scores are one point: pool them first so ties never split across blocks.
    xs, start = np.unique(raw, return_index=True)
    counts = np.diff(np.append(start, len(raw)))
    rates = np.add.reduceat(right, start) / counts
    blocks = _pool(rates, counts.astype(float))
    x_mean, smoothed, weight = [], [], []
    for mean, w, first, last in blocks:
        lo, hi = int(first), int(last) + 1
        x_mean.append(float(np.average(xs[lo:hi], weights=counts[lo:hi])))
        smoothed.append((mean * w + 1.0) / (w + 2.0))
        weight.append(w)
    # Smoothing can break monotonicity between a small block and a big one: pool again.
    x_out, y_out = [], []
    for mean, _, first, last in _pool(np.array(smoothed), np.array(weight)):
        lo, hi = int(first), int(last) + 1
        x_out.append(float(np.average(x_mean[lo:hi], weights=weight[lo:hi])))
        y_out.append(float(mean))
    return IsotonicMap(tuple(x_out), tuple(y_out), len(pairs))


@dataclass
class SchemaCalibration:
    """The maps of one schema: one per well-sampled field, and one over all its fields."""

    model: str | None
    fitted_on: str
    overall: IsotonicMap
    fields: dict[str, IsotonicMap] = field(default_factory=dict)
    reader: str = "ocr"  # how the pages it was fitted on were read (IdpSettings.reader)

    def map_for(self, name: str) -> IsotonicMap:
        return self.fields.get(name, self.overall)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "reader": self.reader,
            "fitted_on": self.fitted_on,
            "overall": self.overall.to_dict(),
            "fields": {k: v.to_dict() for k, v in self.fields.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SchemaCalibration:
        return cls(
            model=data.get("model"),
            fitted_on=str(data.get("fitted_on", "")),
            overall=IsotonicMap.from_dict(data["overall"]),
            fields={k: IsotonicMap.from_dict(v) for k, v in data.get("fields", {}).items()},
            reader=str(data.get("reader", "ocr")),  # files from before the vision reader
        )


def fit_schema(
    samples: Iterable[tuple[str, float, bool]],
    model: str | None,
    fitted_on: str,
    min_field_pairs: int = MIN_FIELD_PAIRS,
    reader: str = "ocr",
) -> SchemaCalibration:
    """Fit one schema's maps to ``samples`` of (field name, raw score, was it right) from
    pages read by ``reader``."""
    by_field: dict[str, list[tuple[float, bool]]] = {}
    for name, raw, ok in samples:
        by_field.setdefault(name, []).append((raw, ok))
    everything = [p for pairs in by_field.values() for p in pairs]
    return SchemaCalibration(
        model=model,
        fitted_on=fitted_on,
        overall=fit_isotonic(everything),
        fields={
            name: fit_isotonic(pairs)
            for name, pairs in by_field.items()
            if len(pairs) >= min_field_pairs
        },
        reader=reader,
    )


@dataclass
class Calibration:
    """Calibration maps by schema name, read from or written to one JSON file."""

    schemas: dict[str, SchemaCalibration]
    source: str = ""

    def apply(
        self, schema_name: str, field_name: str, raw: float, model: str, reader: str = "ocr"
    ) -> float | None:
        """The calibrated confidence, or None when this file does not cover the schema or was
        fitted with another model or on pages another reader read."""
        entry = self.schemas.get(schema_name)
        if entry is None or (entry.model is not None and entry.model != model):
            return None
        if entry.reader != reader:
            return None
        return entry.map_for(field_name)(raw)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "schemas": {k: v.to_dict() for k, v in self.schemas.items()},
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def read(cls, path: Path) -> Calibration:
        try:
            data = json.loads(path.read_text())
            if data.get("version") != FORMAT_VERSION:
                raise ValueError(f"version {data.get('version')!r}, expected {FORMAT_VERSION}")
            schemas = {k: SchemaCalibration.from_dict(v) for k, v in data["schemas"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidRequestError(
                f"{path}: not a calibration file ({exc})", param="calibration"
            ) from exc
        return cls(schemas, source=str(path))


def load_calibration(spec: str) -> Calibration | None:
    """``"default"``: the shipped map; ``"none"``: no calibration (raw scores); else a file."""
    if spec == "none":
        return None
    if spec == DEFAULT_CALIBRATION:
        shipped = resources.files("inferstack.idp") / "data" / _SHIPPED
        with resources.as_file(shipped) as path:
            calibration = Calibration.read(path)
        calibration.source = DEFAULT_CALIBRATION
        return calibration
    return Calibration.read(Path(spec).expanduser())
