"""The chart's security posture, rendered offline: these fail if a policy or context goes missing.

Only the gateway may reach the keyless model servers, the database and Redis; Ray's dashboard
and Jobs API are open to the KubeRay operator alone; every pod runs as non-root with a read-only
root filesystem, no privilege escalation and no service-account token unless it needs one; an
enabled ingress has TLS and answers /metrics itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from inferstack.deploy import ChartPaths
from inferstack.deploy.helm import Helm


@pytest.fixture(scope="module")
def helm(chart_paths: ChartPaths, helm_binary: Path) -> Helm:
    return Helm(helm_binary, chart_paths.chart_dir)


@pytest.fixture(scope="module")
def objects(helm: Helm, chart_paths: ChartPaths) -> list[dict[str, Any]]:
    return helm.template(
        [chart_paths.chart_dir / "values-graviton.yaml"],
        set_values=["gateway.ingress.enabled=true", "gateway.ingress.certificateArn=arn:test"],
    )


def _named(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def _labels(selector: dict[str, Any]) -> dict[str, str]:
    return dict(selector.get("matchLabels") or {})


def test_only_the_gateway_reaches_the_model_servers_database_and_redis(objects) -> None:
    policies = _named(objects, "NetworkPolicy")
    assert set(policies) == {
        f"inferstack-{p}" for p in ("chat", "embeddings", "gateway", "postgresql", "redis")
    }
    gateway = _labels(policies["inferstack-gateway"]["spec"]["podSelector"])
    assert gateway["app.kubernetes.io/component"] == "gateway"
    for name, port in [("chat", 8000), ("embeddings", 8000), ("postgresql", 5432), ("redis", 6379)]:
        spec = policies[f"inferstack-{name}"]["spec"]
        assert spec["policyTypes"] == ["Ingress"]
        assert _labels(spec["podSelector"])["app.kubernetes.io/component"] == name
        rules = spec["ingress"]
        assert all(rule.get("from") for rule in rules), "a rule open to every source"
        from_gateway = [
            r for r in rules if any(_labels(p.get("podSelector", {})) == gateway for p in r["from"])
        ]
        assert [p["port"] for r in from_gateway for p in r["ports"]] == [port]


def test_ray_ports_are_open_only_to_the_same_cluster_and_the_operator(objects) -> None:
    for name in ("chat", "embeddings"):
        rules = _named(objects, "NetworkPolicy")[f"inferstack-{name}"]["spec"]["ingress"]
        unrestricted_ports = [r for r in rules if "ports" not in r]
        (same_cluster,) = unrestricted_ports  # all ports: only Ray's own pods
        (peer,) = same_cluster["from"]
        assert _labels(peer["podSelector"])["app.kubernetes.io/component"] == name
        dashboard = [r for r in rules if any(p["port"] == 8265 for p in r.get("ports", []))]
        (rule,) = dashboard
        (peer,) = rule["from"]
        assert peer == {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kuberay-system"}}
        }
        metrics = [r for r in rules if any(p["port"] == 8080 for p in r.get("ports", []))]
        assert metrics and all("namespaceSelector" in p for r in metrics for p in r["from"])


def _pods(objects: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    pods = []
    for o in objects:
        name = o["metadata"]["name"]
        if o["kind"] in ("Deployment", "StatefulSet"):
            pods.append((name, "pod", o["spec"]["template"]["spec"]))
        elif o["kind"] == "RayService":
            cluster = o["spec"]["rayClusterConfig"]
            pods.append((name, "head", cluster["headGroupSpec"]["template"]["spec"]))
            for group in cluster["workerGroupSpecs"]:
                pods.append((name, "worker", group["template"]["spec"]))
    return pods


def test_every_pod_is_non_root_read_only_and_without_a_needless_token(objects) -> None:
    pods = _pods(objects)
    assert len(pods) >= 7  # gateway, postgresql, redis, 2 x (ray head + workers)
    for name, role, pod in pods:
        where = f"{name} ({role})"
        assert pod["securityContext"]["runAsNonRoot"] is True, where
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        # only a Ray head with the in-tree autoscaler talks to the Kubernetes API
        assert pod["automountServiceAccountToken"] is (role == "head"), where
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where


def test_an_enabled_ingress_has_tls_and_keeps_metrics_private(objects, helm: Helm) -> None:
    (ingress,) = _named(objects, "Ingress").values()
    notes = ingress["metadata"]["annotations"]
    assert notes["alb.ingress.kubernetes.io/certificate-arn"] == "arn:test"
    assert '"HTTPS": 443' in notes["alb.ingress.kubernetes.io/listen-ports"]
    assert notes["alb.ingress.kubernetes.io/ssl-redirect"] == "443"
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    assert paths[0]["path"] == "/metrics"
    assert paths[0]["backend"]["service"]["name"] == "metrics-not-public"
    assert '"statusCode":"404"' in notes["alb.ingress.kubernetes.io/actions.metrics-not-public"]
    with pytest.raises(RuntimeError, match="needs TLS"):
        helm.template([], set_values=["gateway.ingress.enabled=true"])


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e for e in container.get("env", [])}


def test_the_model_servers_require_the_internal_token_only_the_gateway_has(objects) -> None:
    secret = {"secretKeyRef": {"name": "inferstack-internal-token", "key": "token"}}
    for name, role, pod in _pods(objects):
        env = _env(pod["containers"][0])
        if name.startswith("inferstack-chat") or name.startswith("inferstack-embeddings"):
            assert env["INFERSTACK_API_KEY"]["valueFrom"] == secret, f"{name} ({role})"
        elif name == "inferstack-gateway":
            assert env["INFERSTACK_INTERNAL_TOKEN"]["valueFrom"] == secret
        else:
            assert "INFERSTACK_INTERNAL_TOKEN" not in env and "INFERSTACK_API_KEY" not in env
    config = yaml.safe_load(
        _named(objects, "ConfigMap")["inferstack-gateway"]["data"]["gateway.yaml"]
    )
    for group in config["model_groups"].values():
        for deployment in group["deployments"]:
            assert deployment["api_key_env"] == "INFERSTACK_INTERNAL_TOKEN"
            assert "api_key" not in deployment  # the token itself is never in the ConfigMap
