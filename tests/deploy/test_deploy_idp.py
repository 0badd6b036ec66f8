"""The IDP service in the chart: rendered with the rest, valid against the Kubernetes schemas,
wired to the gateway with its key from a Secret, started with arguments the CLI accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from inferstack.cli.main import build_parser
from inferstack.deploy import ChartPaths, validate_manifests
from inferstack.deploy.helm import Helm
from inferstack.deploy.schemas import CrdSchemas
from inferstack.idp.settings import IdpSettings

ON = ["idp.enabled=true", "components={nodepools,models,gateway,monitoring,idp}"]


@pytest.fixture(scope="module")
def rendered(chart_paths: ChartPaths, helm_binary: Path) -> list[dict[str, Any]]:
    helm = Helm(helm_binary, chart_paths.chart_dir)
    return helm.template([chart_paths.chart_dir / "values-graviton.yaml"], set_values=ON)


def _idp(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (obj,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"].endswith("-idp")]
    return obj


def test_idp_renders_valid_objects(rendered: list[dict[str, Any]], chart_paths: ChartPaths) -> None:
    objects = [o for o in rendered if o["metadata"]["name"].endswith("-idp")]
    assert {o["kind"] for o in objects} == {"Deployment", "Service", "PersistentVolumeClaim"}
    assert validate_manifests(objects, CrdSchemas(chart_paths.schemas_dir)) == []


def test_idp_is_off_unless_asked(chart_paths: ChartPaths, helm_binary: Path) -> None:
    helm = Helm(helm_binary, chart_paths.chart_dir)
    objects = helm.template([chart_paths.chart_dir / "values-graviton.yaml"])
    assert not [o for o in objects if o["metadata"]["name"].endswith("-idp")]


def test_idp_talks_to_the_gateway_with_a_secret_key(rendered: list[dict[str, Any]]) -> None:
    deployment = _idp(rendered, "Deployment")
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    parsed = build_parser().parse_args(args)
    assert (parsed.command, parsed.idp_command, parsed.host, parsed.port) == (
        "idp",
        "serve",
        "0.0.0.0",
        8400,
    )
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert str(parsed.state_dir) in mounts
    env = {e["name"]: e for e in container["env"]}
    key = env.pop("INFERSTACK_IDP_API_KEY")
    assert key["valueFrom"]["secretKeyRef"] == {"name": "inferstack-idp", "key": "api-key"}
    values = {n.removeprefix("INFERSTACK_IDP_").lower(): e["value"] for n, e in env.items()}
    settings = IdpSettings(**values)
    assert settings.chat_base_url == "http://inferstack-gateway:80/v1"
    assert settings.approve_threshold == 0.8
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_idp_reads_with_a_vision_model_when_the_values_say(
    chart_paths: ChartPaths, helm_binary: Path
) -> None:
    helm = Helm(helm_binary, chart_paths.chart_dir)
    values = [chart_paths.chart_dir / "values-graviton.yaml"]
    vision = ["idp.reader=vision", "idp.visionModel=vision", "idp.visionFallback=ocr"]
    (container,) = _idp(helm.template(values, set_values=ON + vision), "Deployment")["spec"][
        "template"
    ]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"] if "value" in e}
    settings = IdpSettings(**{n.removeprefix("INFERSTACK_IDP_").lower(): v for n, v in env.items()})
    assert (settings.reader, settings.vision_model, settings.vision_fallback) == (
        "vision",
        "vision",
        "ocr",
    )
    with pytest.raises(RuntimeError, match=r"idp\.visionModel is required"):
        helm.template(values, set_values=[*ON, "idp.reader=vision"])
