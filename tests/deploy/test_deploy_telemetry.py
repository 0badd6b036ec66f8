"""Tracing in the chart: one ``telemetry`` block sets the standard ``OTEL_*`` variables on every
inferstack process (gateway, Ray model servers, agents, rag, idp), each with its service name
and the headers from a Secret; nothing is exported by default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from inferstack.deploy import ChartPaths, validate_manifests
from inferstack.deploy.helm import Helm
from inferstack.deploy.schemas import CrdSchemas
from inferstack.telemetry.settings import TelemetrySettings

APPS = [
    "components={nodepools,models,gateway,agents,monitoring,rag,idp}",
    "rag.enabled=true",
    "idp.enabled=true",
    "agents.apiKey.existingSecret=agents-key",
    "rag.apiKey.existingSecret=rag-key",
    "idp.apiKey.existingSecret=idp-key",
]
TRACED = [
    "telemetry.otlpEndpoint=http://otel-collector:4318",
    "telemetry.headers.existingSecret=otlp-headers",
    "telemetry.sampleRatio=0.25",
]


def _render(chart_paths: ChartPaths, helm_binary: Path, extra: list[str]) -> list[dict[str, Any]]:
    helm = Helm(helm_binary, chart_paths.chart_dir)
    return helm.template(
        [chart_paths.chart_dir / "values-graviton.yaml"], set_values=[*APPS, *extra]
    )


def _inferstack_containers(objects: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each inferstack container's env, by object name (Ray: head and workers)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for o in objects:
        name = o["metadata"]["name"]
        if o["kind"] == "Deployment" and name.endswith(("-gateway", "-agents", "-rag", "-idp")):
            (container,) = o["spec"]["template"]["spec"]["containers"]
            found[name] = container.get("env", [])
        elif o["kind"] == "RayService":
            cluster = o["spec"]["rayClusterConfig"]
            specs = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
            for i, group in enumerate(specs):
                (container,) = group["template"]["spec"]["containers"]
                found[f"{name}/{i}"] = container.get("env", [])
    return found


@pytest.fixture(scope="module")
def traced(chart_paths: ChartPaths, helm_binary: Path) -> list[dict[str, Any]]:
    return _render(chart_paths, helm_binary, TRACED)


def test_every_process_traces_to_the_collector_under_its_own_name(
    traced: list[dict[str, Any]], chart_paths: ChartPaths
) -> None:
    assert validate_manifests(traced, CrdSchemas(chart_paths.schemas_dir)) == []
    containers = _inferstack_containers(traced)
    services = set()
    for name, env in containers.items():
        values = {e["name"]: e.get("value") for e in env}
        assert values["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318", name
        services.add(values["OTEL_SERVICE_NAME"])
        (headers,) = [e for e in env if e["name"] == "OTEL_EXPORTER_OTLP_HEADERS"]
        assert headers["valueFrom"]["secretKeyRef"] == {"name": "otlp-headers", "key": "headers"}
        assert "INFERSTACK_TELEMETRY_RECORD_CONTENT" not in values
        # what the process makes of it: OTLP export to the collector's traces path
        settings = TelemetrySettings(
            sample_ratio=float(values["INFERSTACK_TELEMETRY_SAMPLE_RATIO"])
        )
        environ = {k: v for k, v in values.items() if k.startswith("OTEL_") and v is not None}
        target = settings.target(environ)
        assert target is not None and target.endpoint == "http://otel-collector:4318/v1/traces"
        assert settings.resolved_sample_ratio(environ) == 0.25
    assert services == {
        "inferstack-gateway",
        "inferstack-server",
        "inferstack-agents",
        "inferstack-rag",
        "inferstack-idp",
    }


def test_nothing_is_traced_by_default(chart_paths: ChartPaths, helm_binary: Path) -> None:
    containers = _inferstack_containers(_render(chart_paths, helm_binary, []))
    assert len(containers) >= 6  # gateway, agents, rag, idp, a Ray head and its workers
    for name, env in containers.items():
        assert not [e for e in env if e["name"].startswith(("OTEL_", "INFERSTACK_TELEMETRY"))], name
