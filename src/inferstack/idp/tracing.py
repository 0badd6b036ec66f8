"""Spans and timings for each stage of the pipeline: one ``idp.process`` span per document
with children ``idp.read`` (pages, how they were read), ``idp.extract`` (the model call, whose
request carries the span as ``traceparent`` so the gateway's and model server's spans join the
trace), ``idp.score`` (evidence, validators, calibration, decision) and ``idp.store``. Each
stage's wall time is also kept, so ``idp eval`` can say where the time went."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry.trace import Span, Tracer

__all__ = ["STAGES", "stage"]

STAGES = ("read", "extract", "score", "store")
ATTR_PREFIX = "inferstack.idp."


@contextmanager
def stage(
    tracer: Tracer, timings: dict[str, float], name: str, **attributes: Any
) -> Iterator[Span]:
    """A span ``idp.<name>`` (attributes under ``inferstack.idp.``); its seconds are added to
    ``timings[name]``."""
    start = time.perf_counter()
    attrs = {ATTR_PREFIX + k: v for k, v in attributes.items() if v is not None}
    try:
        with tracer.start_as_current_span(f"idp.{name}", attributes=attrs) as span:
            yield span
    finally:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start
