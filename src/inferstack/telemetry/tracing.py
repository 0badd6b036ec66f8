"""One process's tracing: a tracer provider of its own (no global), W3C propagation, shutdown.

:meth:`Telemetry.from_settings` builds it from :class:`TelemetrySettings` (OTLP/HTTP export
through :class:`BoundedBatchProcessor`, parent-based ratio sampling, the ``service.name``
resource). With export off the tracer is OpenTelemetry's no-op tracer: spans cost next to
nothing, and a caller's ``traceparent`` still passes through to the next hop.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, MutableMapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from inferstack.telemetry.export import BoundedBatchProcessor, ExportStats
from inferstack.telemetry.settings import TelemetrySettings

__all__ = ["INSTRUMENTATION_NAME", "Telemetry"]

INSTRUMENTATION_NAME = "inferstack"
_PROPAGATOR = TraceContextTextMapPropagator()
log = logging.getLogger(__name__)


class Telemetry:
    """Tracing for one process (or one app in tests): its tracer, its exporter's counters."""

    def __init__(
        self,
        tracer: trace.Tracer,
        *,
        provider: TracerProvider | None = None,
        processor: BoundedBatchProcessor | None = None,
        record_content: bool = False,
        service_name: str = "inferstack",
    ) -> None:
        self.tracer = tracer
        self.provider = provider
        self.processor = processor
        self.record_content = record_content
        self.service_name = service_name

    @property
    def enabled(self) -> bool:
        """Whether spans are recorded (export is configured)."""
        return self.provider is not None

    @property
    def stats(self) -> ExportStats:
        return self.processor.stats if self.processor is not None else ExportStats()

    @classmethod
    def disabled(
        cls, *, service_name: str = "inferstack", record_content: bool = False
    ) -> Telemetry:
        return cls(trace.NoOpTracer(), record_content=record_content, service_name=service_name)

    @classmethod
    def from_settings(
        cls,
        settings: TelemetrySettings | None = None,
        *,
        service_name: str,
        exporter: SpanExporter | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Telemetry:
        """Tracing as ``settings`` (and the ``OTEL_*`` variables) say.

        ``exporter`` replaces the OTLP exporter (tests pass an in-memory one); without it and
        without a configured target the result is :meth:`disabled`.
        """
        settings = settings if settings is not None else TelemetrySettings()
        name = settings.resolved_service_name(service_name, environ)
        record_content = settings.resolved_record_content(environ)
        if exporter is None:
            target = settings.target(environ)
            if target is None:
                return cls.disabled(service_name=name, record_content=record_content)
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(
                endpoint=target.endpoint,
                headers=target.headers,
                timeout=settings.export_timeout_s,
            )
            log.info("exporting traces of %s to %s", name, target.endpoint)
        attributes: dict[str, Any] = {
            "service.name": name,
            "openinference.project.name": settings.phoenix_project,
        }
        provider = TracerProvider(
            resource=Resource.create(attributes),
            sampler=ParentBased(TraceIdRatioBased(settings.resolved_sample_ratio(environ))),
        )
        processor = BoundedBatchProcessor(
            exporter,
            max_queue_size=settings.max_queue_size,
            max_export_batch_size=settings.max_export_batch_size,
            schedule_delay_s=settings.schedule_delay_s,
        )
        provider.add_span_processor(processor)
        return cls(
            provider.get_tracer(INSTRUMENTATION_NAME),
            provider=provider,
            processor=processor,
            record_content=record_content,
            service_name=name,
        )

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Hand every finished span to the exporter; False if the timeout came first."""
        if self.processor is None:
            return True
        return self.processor.force_flush(int(timeout_s * 1000))

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Export what is left (bounded by ``timeout_s``) and stop the export thread."""
        if self.provider is not None and self.processor is not None:
            self.processor.shutdown(timeout_s)
            self.provider = None
            self.processor = None
            self.tracer = trace.NoOpTracer()

    @staticmethod
    def extract(headers: Mapping[str, str]) -> otel_context.Context:
        """The trace context a caller sent (``traceparent``/``tracestate``), if any."""
        return _PROPAGATOR.extract(headers)

    @staticmethod
    def environment_context(environ: Mapping[str, str] | None = None) -> otel_context.Context:
        """The trace context a parent process handed down in ``TRACEPARENT`` / ``TRACESTATE``
        (OpenTelemetry's environment-variable carrier), for a one-off command's root span."""
        env = os.environ if environ is None else environ
        carrier = {k.lower(): env[k] for k in ("TRACEPARENT", "TRACESTATE") if env.get(k)}
        return _PROPAGATOR.extract(carrier)

    @staticmethod
    def inject(headers: MutableMapping[str, str], ctx: otel_context.Context | None = None) -> None:
        """Write the current (or ``ctx``'s) span as ``traceparent`` into ``headers``."""
        _PROPAGATOR.inject(headers, context=ctx)
