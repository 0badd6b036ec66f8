"""The RAG service in the chart: rendered with the rest, valid against the Kubernetes schemas,
wired to the gateway and Milvus, with its key from a Secret."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from inferstack.cli.main import build_parser
from inferstack.deploy import ChartPaths, validate_manifests
from inferstack.deploy.helm import Helm
from inferstack.deploy.schemas import CrdSchemas

ON = ["rag.enabled=true", "components={nodepools,models,gateway,monitoring,rag}"]


@pytest.fixture(scope="module")
def rendered(chart_paths: ChartPaths, helm_binary: Path) -> list[dict[str, Any]]:
    helm = Helm(helm_binary, chart_paths.chart_dir)
    return helm.template([chart_paths.chart_dir / "values-graviton.yaml"], set_values=ON)


def _rag(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (obj,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"].endswith("-rag")]
    return obj


def test_rag_renders_valid_objects(rendered: list[dict[str, Any]], chart_paths: ChartPaths) -> None:
    objects = [o for o in rendered if o["metadata"]["name"].endswith("-rag")]
    assert {o["kind"] for o in objects} == {"Deployment", "Service", "PersistentVolumeClaim"}
    problems = validate_manifests(objects, CrdSchemas(chart_paths.schemas_dir))
    assert problems == [], problems


def test_rag_talks_to_the_gateway_and_milvus_with_a_secret_key(
    rendered: list[dict[str, Any]],
) -> None:
    deployment = _rag(rendered, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    flags = dict(zip(args[2::2], args[3::2], strict=True))
    assert args[:2] == ["rag", "serve"]
    assert flags["--embedding-url"] == flags["--chat-url"] == "http://inferstack-gateway:80/v1"
    assert flags["--store"] == "milvus"
    assert flags["--store-uri"] == "http://inferstack-milvus:19530"
    assert flags["--embedding-model"] == "default-embedding"
    (env,) = [e for e in container["env"] if e["name"] == "INFERSTACK_RAG_API_KEY"]
    assert env["valueFrom"]["secretKeyRef"] == {"name": "inferstack-rag", "key": "api-key"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert flags["--kb-dir"] in mounts
    # The arguments are ones `inferstack rag serve` accepts.
    parsed = build_parser().parse_args(args)
    assert parsed.port == 8100 and parsed.store == "milvus"


def _env(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e for e in container["env"]}


def test_rag_has_no_web_search_without_a_key(rendered: list[dict[str, Any]]) -> None:
    env = _env(_rag(rendered, "Deployment"))
    assert not [name for name in env if "WEBSEARCH" in name]


@pytest.mark.parametrize(
    ("values", "secret"),
    [
        (["rag.websearch.existingSecret=tavily", "rag.websearch.key=token"], ("tavily", "token")),
        # no secret of its own: the agents' web-search key (one key for both)
        (["agents.websearch.existingSecret=shared-search"], ("shared-search", "api-key")),
    ],
)
def test_rag_web_search_from_an_existing_secret(
    chart_paths: ChartPaths,
    helm_binary: Path,
    monkeypatch: pytest.MonkeyPatch,
    values: list[str],
    secret: tuple[str, str],
) -> None:
    helm = Helm(helm_binary, chart_paths.chart_dir)
    objects = helm.template(
        [chart_paths.chart_dir / "values-graviton.yaml"],
        set_values=[*ON, *values, "rag.websearch.url=http://search.internal:8080/search"],
    )
    deployment = _rag(objects, "Deployment")
    assert validate_manifests([deployment], CrdSchemas(chart_paths.schemas_dir)) == []
    env = _env(deployment)
    key = env["INFERSTACK_RAG_WEBSEARCH__API_KEY"]
    assert key["valueFrom"]["secretKeyRef"] == {"name": secret[0], "key": secret[1]}
    assert "value" not in key  # the key only ever comes from the Secret
    # The plain values are ones RagSettings reads into its websearch settings.
    from inferstack.rag.settings import RagSettings

    for name, e in env.items():
        if name.startswith("INFERSTACK_RAG_WEBSEARCH__") and "value" in e:
            monkeypatch.setenv(name, e["value"])
    monkeypatch.setenv("INFERSTACK_RAG_WEBSEARCH__API_KEY", "from-the-secret")
    web = RagSettings().websearch
    assert web.enabled and web.url == "http://search.internal:8080/search"
    assert (web.max_results, web.timeout) == (5, 15.0)


def test_rag_is_off_unless_enabled(chart_paths: ChartPaths, helm_binary: Path) -> None:
    helm = Helm(helm_binary, chart_paths.chart_dir)
    objects = helm.template([], set_values=["components={nodepools,models,gateway,monitoring,rag}"])
    assert not [o for o in objects if o["metadata"]["name"].endswith("-rag")]


def test_setup_rag_target_installs_the_rag_stage() -> None:
    import subprocess

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-n",
            "-f",
            "deploy/cluster.mk",
            "setup-rag",
            "RELEASE=demo",
            "NAMESPACE=team-a",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "helm upgrade --install demo-rag" in out.replace(".cache/tools/bin/helm", "helm")
    assert "--set 'components={rag}'" in out and "--set rag.enabled=true" in out
    assert "create secret generic inferstack-rag" in out
    clean = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-n",
            "-f",
            "deploy/cluster.mk",
            "clean",
            "RELEASE=demo",
            "NAMESPACE=team-a",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "uninstall demo-rag --namespace team-a" in clean
