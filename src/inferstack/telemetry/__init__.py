"""Cross-cutting telemetry (tracing and metric names); imports no other inferstack package."""
