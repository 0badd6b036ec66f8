"""Randomized property test: any walk the constraint allows, closed by ``closing()``, parses and
validates against the schema (checked with the ``jsonschema`` package)."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import jsonschema
import pytest

from engines.structured.schemas import ALL
from inferstack.engines.structured import JsonConstraint, compile_schema

FRAGMENTS = [
    *"{}[],:\" \\-.0123456789eEtfnuabxz/",
    '"', '":', '": ', ', "', '": "', '"}', '"]', "}]", "]}", '" ', " }", ", ", "} ",
    "true", "false", "null", "tru", "nul", "12", "3.5", "-1", "0.", "007", "1e5", "99999",
    "hello", " world", "é", "日本", "😀", "\\n", "\\u00e9", "\\u", "\\ud83d", '\\"', "\\\\",
    "\n", "\t", "\x01", "  ", "ab\"", "x\\", "u00", "e9",
]  # fmt: skip


def _words(schema: Any) -> list[str]:
    """Property names and enum/const texts of a schema, quoted as the model would write them."""
    out: list[str] = []
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                out += [json.dumps(k) for k in value] + [json.dumps(k)[:-1] for k in value]
            if key in ("enum", "const"):
                out += [json.dumps(v) for v in (value if key == "enum" else [value])]
            out += _words(value)
    elif isinstance(schema, list):
        for value in schema:
            out += _words(value)
    return out


def _validator(schema: dict[str, Any] | None) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema if schema else {"type": "object"})


def _check_closed(text: str, con: JsonConstraint, validator: Any, where: str) -> None:
    closing = con.closing()
    assert con.complete == (closing == ""), where
    assert con.can_feed(closing), f"{where}: closing {closing!r} refused after {text!r}"
    done = con.copy()
    done.feed(closing)
    assert done.complete, f"{where}: {text + closing!r} not complete"
    value = json.loads(text + closing)
    errors = [e.message for e in validator.iter_errors(value)]
    assert not errors, f"{where}: {text + closing!r}: {errors}"
    if isinstance(value, dict | list):
        assert done.finished, f"{where}: {text + closing!r} not finished"


@pytest.mark.parametrize("name", sorted(ALL))
def test_random_walks_close_validly(name: str) -> None:
    schema = ALL[name]
    node = compile_schema(schema)
    validator = _validator(schema)
    pool = FRAGMENTS + _words(schema) * 3
    rng = random.Random(f"walks-{name}")
    timings: list[float] = []
    for walk in range(500):
        con = JsonConstraint(node, max_ws=rng.choice((0, 1, 1, 2)))
        text = ""
        for _ in range(rng.randrange(0, 80)):
            if con.finished:
                break
            chosen = None
            for cand in rng.sample(pool, 6):
                t0 = time.perf_counter()
                ok = con.can_feed(cand)
                timings.append(time.perf_counter() - t0)
                if ok:
                    chosen = cand
                    break
            if chosen is None:  # nothing in this sample fits: take one character of the closing
                chosen = con.closing()[:1]
            con.feed(chosen)
            text += chosen
            if rng.random() < 0.1:
                _check_closed(text, con, validator, f"{name} walk {walk}")
            assert not con.can_feed("\n") and not con.can_feed("\t")
        _check_closed(text, con, validator, f"{name} walk {walk}")
    mean_us = sum(timings) / len(timings) * 1e6
    print(f"\n{name}: {len(timings)} can_feed calls of 1-6 chars, mean {mean_us:.1f} µs")


def test_walks_actually_cover_structure() -> None:
    """Guard against a vacuous property test: walks must reach deep, varied output."""
    node = compile_schema(ALL["order"])
    rng = random.Random(7)
    pool = FRAGMENTS + _words(ALL["order"]) * 3
    longest = ""
    for _ in range(200):
        con = JsonConstraint(node)
        text = ""
        for _ in range(150):
            fits = [c for c in rng.sample(pool, 8) if con.can_feed(c)]
            chosen = fits[0] if fits else con.closing()[:1]
            if not chosen:
                break
            con.feed(chosen)
            text += chosen
        longest = max(longest, text, key=len)
        assert "\n" not in text
    assert '"items"' in longest and '"sku"' in longest, longest
