"""Export is off by default; one setting or the OTEL_* variables turn it on; presets."""

from __future__ import annotations

import base64

import pytest

from inferstack.telemetry.settings import TelemetrySettings, parse_otlp_headers


def test_nothing_is_exported_by_default() -> None:
    s = TelemetrySettings()
    assert s.resolved_exporter({}) == "none"
    assert s.target({}) is None
    assert s.resolved_record_content({}) is False
    assert s.resolved_sample_ratio({}) == 1.0


def test_one_setting_turns_otlp_on_with_the_standard_default_endpoint() -> None:
    target = TelemetrySettings(exporter="otlp").target({})
    assert target is not None
    assert target.endpoint == "http://127.0.0.1:4318/v1/traces"


def test_otel_variables_are_honoured() -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
        "OTEL_EXPORTER_OTLP_HEADERS": "api-key=a%20b,X-Tenant=t1",
        "OTEL_SERVICE_NAME": "my-gateway",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.25",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
    }
    s = TelemetrySettings()
    assert s.resolved_exporter(env) == "otlp"
    target = s.target(env)
    assert target is not None
    assert target.endpoint == "http://collector:4318/v1/traces"
    assert target.headers == {"api-key": "a b", "x-tenant": "t1"}
    assert s.resolved_service_name("inferstack-gateway", env) == "my-gateway"
    assert s.resolved_sample_ratio(env) == 0.25
    assert s.resolved_record_content(env) is True


def test_traces_endpoint_wins_and_is_used_as_is() -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://base:4318",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:9999/custom",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "a=2",
        "OTEL_EXPORTER_OTLP_HEADERS": "a=1,b=1",
    }
    target = TelemetrySettings().target(env)
    assert target is not None
    assert target.endpoint == "http://traces:9999/custom"
    assert target.headers == {"a": "2", "b": "1"}


def test_sdk_disabled_wins_over_everything() -> None:
    env = {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}
    assert TelemetrySettings(exporter="otlp").target(env) is None


def test_langfuse_preset_path_auth_and_ingestion_header() -> None:
    s = TelemetrySettings(
        exporter="langfuse",
        langfuse_host="https://langfuse.example.com/",
        langfuse_public_key="pk-lf-1",
        langfuse_secret_key="sk-lf-2",
    )
    target = s.target({})
    assert target is not None
    assert target.endpoint == "https://langfuse.example.com/api/public/otel/v1/traces"
    auth = base64.b64encode(b"pk-lf-1:sk-lf-2").decode()
    assert target.headers["authorization"] == f"Basic {auth}"
    assert target.headers["x-langfuse-ingestion-version"] == "4"


def test_langfuse_preset_without_keys_is_refused() -> None:
    with pytest.raises(ValueError, match="LANGFUSE_PUBLIC_KEY"):
        TelemetrySettings(exporter="langfuse").target({})


def test_phoenix_preset() -> None:
    target = TelemetrySettings(exporter="phoenix", phoenix_url="http://127.0.0.1:6123").target({})
    assert target is not None
    assert target.endpoint == "http://127.0.0.1:6123/v1/traces"


def test_environment_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFERSTACK_TELEMETRY_EXPORTER", "phoenix")
    monkeypatch.setenv("INFERSTACK_TELEMETRY_SAMPLE_RATIO", "0.5")
    s = TelemetrySettings()
    assert s.exporter == "phoenix"
    assert s.resolved_sample_ratio({}) == 0.5


@pytest.mark.parametrize("bad", ["novalue", "=x"])
def test_malformed_headers_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="key=value"):
        parse_otlp_headers(bad)


def test_bad_sampler_argument_is_refused() -> None:
    env = {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}
    with pytest.raises(ValueError, match=r"0\.\.1"):
        TelemetrySettings().resolved_sample_ratio(env)
