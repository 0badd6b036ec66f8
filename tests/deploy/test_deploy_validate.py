"""The chart validated for real (helm lint/template, schemas, Serve args), and what must fail."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from inferstack.deploy import ChartPaths, validate, validate_manifests
from inferstack.deploy.helm import Helm
from inferstack.deploy.schemas import CrdSchemas


@pytest.fixture(scope="module")
def crds(chart_paths: ChartPaths) -> CrdSchemas:
    return CrdSchemas(chart_paths.schemas_dir)


@pytest.fixture(scope="module")
def helm(chart_paths: ChartPaths, helm_binary: Path) -> Helm:
    return Helm(helm_binary, chart_paths.chart_dir)


@pytest.fixture(scope="module")
def eks_objects(helm: Helm, chart_paths: ChartPaths) -> list[dict[str, Any]]:
    """The Graviton + GPU EKS values (vLLM on the GPU pool) with the HTTPS ingress on."""
    return helm.template(
        [chart_paths.chart_dir / "values-graviton-gpu.yaml"],
        set_values=[
            "gateway.ingress.enabled=true",
            "gateway.ingress.certificateArn=arn:aws:acm:us-east-1:123456789012:certificate/test",
        ],
    )


def _one(objects: list[dict[str, Any]], kind: str, name_suffix: str = "") -> dict[str, Any]:
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"].endswith(name_suffix):
            return copy.deepcopy(obj)
    raise AssertionError(f"no {kind} *{name_suffix} rendered")


def test_schemas_cover_kuberay_and_karpenter(crds: CrdSchemas) -> None:
    assert {
        ("ray.io/v1", "RayService"),
        ("ray.io/v1", "RayCluster"),
        ("karpenter.sh/v1", "NodePool"),
        ("karpenter.k8s.aws/v1", "EC2NodeClass"),
    } <= crds.kinds()


def test_every_values_file_is_valid(chart_paths: ChartPaths, helm_binary: Path) -> None:
    names = {p.name for p in chart_paths.values_files()}
    assert {"values-laptop.yaml", "values-graviton.yaml", "values-graviton-gpu.yaml"} <= names
    problems = validate(chart_paths)
    assert problems == [], "\n".join(map(str, problems))


def test_eks_values_render_every_part(eks_objects: list[dict[str, Any]]) -> None:
    kinds = {(o["kind"], o["metadata"]["name"]) for o in eks_objects}
    for expected in [
        ("RayService", "inferstack-chat"),
        ("RayService", "inferstack-embeddings"),
        ("RayService", "inferstack-vllm"),
        ("NodePool", "inferstack-graviton"),
        ("NodePool", "inferstack-gpu"),
        ("NodePool", "inferstack-general"),
        ("EC2NodeClass", "inferstack-default"),
        ("Deployment", "inferstack-gateway"),
        ("HorizontalPodAutoscaler", "inferstack-gateway"),
        ("PodDisruptionBudget", "inferstack-gateway"),
        ("Ingress", "inferstack-gateway"),
        ("StatefulSet", "inferstack-postgresql"),
        ("Deployment", "inferstack-redis"),
        ("PrometheusRule", "inferstack"),
        ("PersistentVolumeClaim", "inferstack-model-cache"),
    ]:
        assert expected in kinds
    chat = _one(eks_objects, "RayService", "-chat")
    pod = chat["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["template"]["spec"]
    assert pod["nodeSelector"]["kubernetes.io/arch"] == "arm64"
    assert any(t["key"] == "inferstack.io/pool" for t in pod["tolerations"])
    vllm = _one(eks_objects, "RayService", "-vllm")
    vpod = vllm["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["template"]["spec"]
    assert vpod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert vpod["containers"][0]["image"].startswith("ghcr.io/inferstack/inferstack-gpu:")
    serve = yaml.safe_load(vllm["spec"]["serveConfigV2"])["applications"][0]["args"]
    assert serve["engine"] == "vllm" and set(serve["vllm"]) >= {
        "gpu_memory_utilization",
        "tensor_parallel_size",
    }
    assert _one(eks_objects, "NodePool", "-gpu")["spec"]["template"]["spec"]["taints"]


def test_no_credentials_rendered(eks_objects: list[dict[str, Any]]) -> None:
    assert not [o for o in eks_objects if o["kind"] == "Secret"]
    text = yaml.safe_dump_all(eks_objects)
    for container_env in _envs(eks_objects):
        assert "value" not in container_env or not container_env["name"].endswith(
            ("PASSWORD", "TOKEN", "MASTER_KEY")
        ), container_env
    assert "hf_" not in text and "sk-" not in text


def _envs(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "env" in node and isinstance(node["env"], list):
                found.extend(node["env"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(objects)
    return found


def test_typo_in_serve_arg_fails(
    chart_paths: ChartPaths, helm_binary: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "values-typo.yaml"
    bad.write_text("chat:\n  serve:\n    max_ongoing_request: 16\n")
    problems = validate(chart_paths, values_files=[bad])
    messages = [str(p) for p in problems if p.source == "values-typo.yaml"]
    assert any("max_ongoing_request" in m and "RayService/" in m for m in messages), messages


def test_wrong_serve_value_fails(
    chart_paths: ChartPaths, helm_binary: Path, tmp_path: Path
) -> None:
    engine = tmp_path / "values-engine.yaml"
    engine.write_text("embeddings:\n  serve:\n    engine: onnx\n")
    scaling = tmp_path / "values-scaling.yaml"
    scaling.write_text("embeddings:\n  serve:\n    num_replicas: 2\n")
    problems = [str(p) for p in validate(chart_paths, values_files=[engine, scaling])]
    assert any(m.startswith("values-engine.yaml") and ".args.engine" in m for m in problems)
    assert any(
        m.startswith("values-scaling.yaml") and "num_replicas or autoscaling_config" in m
        for m in problems
    ), problems


def test_nodepool_with_wrong_field_fails(
    eks_objects: list[dict[str, Any]], crds: CrdSchemas
) -> None:
    pool = _one(eks_objects, "NodePool", "-graviton")
    assert validate_manifests([pool], crds) == []
    pool["spec"]["disruption"]["consolidateAftr"] = pool["spec"]["disruption"].pop(
        "consolidateAfter"
    )
    messages = [p.message for p in validate_manifests([pool], crds)]
    assert any("consolidateAftr" in m for m in messages), messages
    assert any("consolidateAfter" in m for m in messages), messages  # required field missing


def test_nodepool_with_wrong_value_fails(
    eks_objects: list[dict[str, Any]], crds: CrdSchemas
) -> None:
    pool = _one(eks_objects, "NodePool", "-gpu")
    pool["spec"]["template"]["spec"]["taints"][0]["effect"] = "NoScheduleAtAll"
    messages = [p.message for p in validate_manifests([pool], crds)]
    assert any("NoScheduleAtAll" in m for m in messages), messages


def test_ec2nodeclass_and_rayservice_fields_are_checked(
    eks_objects: list[dict[str, Any]], crds: CrdSchemas
) -> None:
    node_class = _one(eks_objects, "EC2NodeClass", "-gpu")
    node_class["spec"]["amiFamly"] = "AL2023"
    service = _one(eks_objects, "RayService", "-chat")
    service["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["maxReplicas"] = "eight"
    problems = validate_manifests([node_class, service], crds)
    assert {p.obj for p in problems} == {
        "EC2NodeClass/inferstack-gpu",
        "RayService/inferstack-chat",
    }, problems


def test_builtin_kinds_and_unknown_kinds_are_checked(
    eks_objects: list[dict[str, Any]], crds: CrdSchemas
) -> None:
    deployment = _one(eks_objects, "Deployment", "-gateway")
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "http"
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    problems = validate_manifests([deployment, unknown], crds)
    assert [p.obj for p in problems] == ["Deployment/inferstack-gateway", "Widget/w"], problems


def test_gateway_config_is_checked(eks_objects: list[dict[str, Any]], crds: CrdSchemas) -> None:
    config = _one(eks_objects, "ConfigMap", "-gateway")
    settings = yaml.safe_load(config["data"]["gateway.yaml"])
    assert set(settings["model_groups"]) == {"default", "default-embedding", "vllm"}
    settings["router"]["strategy"] = "random"
    config["data"]["gateway.yaml"] = yaml.safe_dump(settings)
    messages = [p.message for p in validate_manifests([config], crds)]
    assert any("router.strategy" in m for m in messages), messages
