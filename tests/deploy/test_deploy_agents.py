"""The agent service's Deployment and Service in the chart, validated offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from inferstack.agents.settings import AgentSettings
from inferstack.deploy import ChartPaths, validate_manifests
from inferstack.deploy.helm import Helm
from inferstack.deploy.schemas import CrdSchemas


@pytest.fixture(scope="module")
def objects(chart_paths: ChartPaths, helm_binary: Path) -> list[dict[str, Any]]:
    helm = Helm(helm_binary, chart_paths.chart_dir)
    return helm.template([chart_paths.chart_dir / "values-graviton.yaml"])


def _get(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise AssertionError(f"no {kind} {name}")


def test_agents_deployment_renders_and_validates(
    objects: list[dict[str, Any]], chart_paths: ChartPaths
) -> None:
    dep = _get(objects, "Deployment", "inferstack-agents")
    svc = _get(objects, "Service", "inferstack-agents")
    assert validate_manifests([dep, svc], CrdSchemas(chart_paths.schemas_dir)) == []
    (container,) = dep["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["agents", "serve"]
    env = {e["name"]: e for e in container["env"]}
    assert env["INFERSTACK_AGENTS_BASE_URL"]["value"] == "http://inferstack-gateway:80/v1"
    assert env["INFERSTACK_AGENTS_API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == (
        "inferstack-agents"
    )
    assert env["INFERSTACK_AGENTS_DATABASE_URL"]["value"].startswith("postgresql+asyncpg://")
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert svc["spec"]["ports"][0]["targetPort"] == "http"


def test_the_settings_the_chart_passes_are_valid(objects: list[dict[str, Any]]) -> None:
    dep = _get(objects, "Deployment", "inferstack-agents")
    env = {
        e["name"]: e.get("value") for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    servers = json.loads(env["INFERSTACK_AGENTS_MCP_SERVERS"])
    settings = AgentSettings(
        host=env["INFERSTACK_AGENTS_HOST"],
        port=int(env["INFERSTACK_AGENTS_PORT"]),
        base_url=env["INFERSTACK_AGENTS_BASE_URL"],
        model=env["INFERSTACK_AGENTS_MODEL"],
        mcp_servers=servers,
    )
    assert settings.port == 8300 and settings.model == "default"
    from inferstack.agents.mcp.servers.registry import available

    builtins = [s.split(":")[1] for s in servers if s.startswith("builtin:")]
    assert set(builtins) <= set(available(settings))  # nothing offered that cannot run
