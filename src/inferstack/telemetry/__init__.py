"""Cross-cutting telemetry: OpenTelemetry tracing in the GenAI conventions and the names of
every metric. Imported by every package; imports no other inferstack package.

- :class:`Telemetry` (``tracing``): one process's tracer, exporter and W3C propagation;
- :class:`TelemetrySettings` (``settings``): export target (off by default), presets for
  Langfuse and Phoenix, sampling, the ``OTEL_*`` variables;
- ``semconv``: attribute, operation and span names; ``genai``: span helpers;
- :class:`TracingMiddleware` (``asgi``): a SERVER span per HTTP request;
- ``metrics``: every metric name, with the GenAI metrics' units and buckets.
"""

from inferstack.telemetry.asgi import TracingMiddleware
from inferstack.telemetry.export import BoundedBatchProcessor, ExportStats
from inferstack.telemetry.semconv import Attr, Operation
from inferstack.telemetry.settings import ExportTarget, TelemetrySettings
from inferstack.telemetry.tracing import Telemetry

__all__ = [
    "Attr",
    "BoundedBatchProcessor",
    "ExportStats",
    "ExportTarget",
    "Operation",
    "Telemetry",
    "TelemetrySettings",
    "TracingMiddleware",
]
