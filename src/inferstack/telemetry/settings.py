"""Telemetry settings: where traces go (nowhere by default), how many, and with what.

Every process of the stack reads the same :class:`TelemetrySettings` (environment prefix
``INFERSTACK_TELEMETRY_``) and the standard OpenTelemetry variables, read here and nowhere else:

- ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (a full URL) or ``OTEL_EXPORTER_OTLP_ENDPOINT`` (a base
  URL; ``/v1/traces`` is appended), either of which also turns OTLP export on;
- ``OTEL_EXPORTER_OTLP_TRACES_HEADERS`` / ``OTEL_EXPORTER_OTLP_HEADERS`` (``k=v,k2=v2``,
  URL-encoded values);
- ``OTEL_SERVICE_NAME``; ``OTEL_TRACES_SAMPLER`` (``always_on``, ``always_off``,
  ``traceidratio``, ``parentbased_*``) with ``OTEL_TRACES_SAMPLER_ARG``; ``OTEL_SDK_DISABLED``;
- ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (record message content).

Nothing is exported unless ``exporter`` is set (``INFERSTACK_TELEMETRY_EXPORTER=otlp``,
``langfuse`` or ``phoenix``) or an OTLP endpoint variable is: tracing never leaks by default.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ExportTarget", "TelemetrySettings", "parse_otlp_headers"]

Exporter = Literal["none", "otlp", "langfuse", "phoenix"]
LANGFUSE_INGESTION_VERSION = "4"
_TRUE = {"1", "true", "yes", "on"}


def parse_otlp_headers(value: str) -> dict[str, str]:
    """``OTEL_EXPORTER_OTLP_HEADERS`` syntax: ``key=value`` pairs split by commas, values
    URL-encoded. Malformed pairs are refused rather than skipped."""
    headers: dict[str, str] = {}
    for pair in value.split(","):
        if not pair.strip():
            continue
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"OTLP header {pair.strip()!r} is not key=value")
        headers[name.strip().lower()] = unquote(raw.strip())
    return headers


@dataclass(frozen=True)
class ExportTarget:
    """Where spans are posted (OTLP/HTTP protobuf) and with which headers."""

    endpoint: str
    headers: dict[str, str] = field(default_factory=dict)


class TelemetrySettings(BaseSettings):
    """Tracing of one process (env ``INFERSTACK_TELEMETRY_*`` plus the ``OTEL_*`` variables)."""

    model_config = SettingsConfigDict(env_prefix="INFERSTACK_TELEMETRY_", extra="forbid")

    exporter: Exporter | None = Field(
        default=None,
        description="Where spans go: none, otlp (any OTLP/HTTP endpoint), langfuse, phoenix. "
        "Unset: otlp when an OTEL_EXPORTER_OTLP_*ENDPOINT variable is set, else none.",
    )
    endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP traces URL (…/v1/traces); default from the OTEL_* variables, "
        "else http://127.0.0.1:4318/v1/traces",
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra headers sent with every export"
    )
    service_name: str | None = Field(
        default=None, description="service.name of this process; OTEL_SERVICE_NAME wins"
    )
    sample_ratio: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Share of new traces kept (parent-based: a sampled caller's trace is kept); "
        "default 1, or OTEL_TRACES_SAMPLER_ARG",
    )
    record_content: bool | None = Field(
        default=None,
        description="Record prompts and completions on spans (off; the gateway can also opt "
        "in per key)",
    )
    langfuse_host: str = Field(
        default="https://cloud.langfuse.com", description="Langfuse base URL (langfuse preset)"
    )
    langfuse_public_key: str | None = Field(default=None, description="Langfuse public key")
    langfuse_secret_key: SecretStr | None = Field(default=None, description="Langfuse secret key")
    phoenix_url: str = Field(
        default="http://127.0.0.1:6006", description="Phoenix base URL (phoenix preset)"
    )
    phoenix_project: str = Field(
        default="inferstack", description="Phoenix project the spans land in"
    )
    max_queue_size: int = Field(
        default=2048, ge=1, description="Finished spans held for export; beyond that dropped"
    )
    max_export_batch_size: int = Field(default=512, ge=1, description="Spans per export request")
    schedule_delay_s: float = Field(default=1.0, gt=0, description="Longest wait between exports")
    export_timeout_s: float = Field(default=5.0, gt=0, description="Timeout of one export request")

    def resolved_exporter(self, environ: Mapping[str, str] | None = None) -> Exporter:
        env = os.environ if environ is None else environ
        if env.get("OTEL_SDK_DISABLED", "").strip().lower() in _TRUE:
            return "none"
        if self.exporter is not None:
            return self.exporter
        if env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            return "otlp"
        return "none"

    def resolved_service_name(self, default: str, environ: Mapping[str, str] | None = None) -> str:
        env = os.environ if environ is None else environ
        return env.get("OTEL_SERVICE_NAME") or self.service_name or default

    def resolved_sample_ratio(self, environ: Mapping[str, str] | None = None) -> float:
        env = os.environ if environ is None else environ
        if self.sample_ratio is not None:
            return self.sample_ratio
        sampler = env.get("OTEL_TRACES_SAMPLER", "").strip().lower()
        if sampler in {"always_off", "parentbased_always_off"}:
            return 0.0
        if sampler in {"traceidratio", "parentbased_traceidratio"}:
            arg = env.get("OTEL_TRACES_SAMPLER_ARG", "1")
            try:
                ratio = float(arg)
            except ValueError as exc:
                raise ValueError(f"OTEL_TRACES_SAMPLER_ARG={arg!r} is not a number") from exc
            if not 0.0 <= ratio <= 1.0:
                raise ValueError(f"OTEL_TRACES_SAMPLER_ARG={arg!r} is not within 0..1")
            return ratio
        return 1.0

    def resolved_record_content(self, environ: Mapping[str, str] | None = None) -> bool:
        env = os.environ if environ is None else environ
        if self.record_content is not None:
            return self.record_content
        flag = env.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "")
        return flag.strip().lower() in _TRUE

    def target(self, environ: Mapping[str, str] | None = None) -> ExportTarget | None:
        """The export target, or ``None`` when nothing is exported."""
        env = os.environ if environ is None else environ
        kind = self.resolved_exporter(env)
        if kind == "none":
            return None
        if kind == "langfuse":
            return self._langfuse()
        if kind == "phoenix":
            base = self.phoenix_url.rstrip("/")
            return ExportTarget(self.endpoint or f"{base}/v1/traces", dict(self.headers))
        headers = parse_otlp_headers(env.get("OTEL_EXPORTER_OTLP_HEADERS", ""))
        headers.update(parse_otlp_headers(env.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "")))
        headers.update({k.lower(): v for k, v in self.headers.items()})
        return ExportTarget(self._otlp_endpoint(env), headers)

    def _otlp_endpoint(self, env: Mapping[str, str]) -> str:
        if self.endpoint:
            return self.endpoint
        if env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
            return env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        if env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            return env["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/") + "/v1/traces"
        return "http://127.0.0.1:4318/v1/traces"

    def _langfuse(self) -> ExportTarget:
        if not self.langfuse_public_key or self.langfuse_secret_key is None:
            raise ValueError(
                "the langfuse exporter needs INFERSTACK_TELEMETRY_LANGFUSE_PUBLIC_KEY and "
                "INFERSTACK_TELEMETRY_LANGFUSE_SECRET_KEY"
            )
        pair = f"{self.langfuse_public_key}:{self.langfuse_secret_key.get_secret_value()}"
        headers = {
            "authorization": "Basic " + base64.b64encode(pair.encode()).decode(),
            "x-langfuse-ingestion-version": LANGFUSE_INGESTION_VERSION,
            **{k.lower(): v for k, v in self.headers.items()},
        }
        base = self.langfuse_host.rstrip("/")
        return ExportTarget(self.endpoint or f"{base}/api/public/otel/v1/traces", headers)
