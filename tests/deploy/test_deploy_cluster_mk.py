"""deploy/cluster.mk: the cluster targets exist, stay out of the main Makefile's way, and
`clean` deletes only this release's objects (checked on make's dry-run output)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CLUSTER_MK = REPO_ROOT / "deploy" / "cluster.mk"


def dry_run(target: str, *variables: str) -> str:
    proc = subprocess.run(
        ["make", "--no-print-directory", "-n", "-f", str(CLUSTER_MK), target, *variables],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return proc.stdout


def defined_targets() -> set[str]:
    text = CLUSTER_MK.read_text()
    return set(re.findall(r"^([a-z][a-z-]*):(?!=)", text, re.M))


def test_workflow_targets_exist_and_main_ones_are_left_to_the_makefile() -> None:
    targets = defined_targets()
    for name in (
        "dev-setup",
        "setup-base",
        "setup-models",
        "setup-gateway",
        "setup-agents",
        "setup-observability",
        "setup-milvus",
        "status",
        "verify-cluster",
        "clean",
        "deploy-render",
        "deploy-validate",
    ):
        assert name in targets
    assert not targets & {"install", "up", "test", "lint"}


def test_clean_removes_only_this_release() -> None:
    out = dry_run("clean", "RELEASE=demo", "NAMESPACE=team-a")
    for stage in ("nodepools", "models", "gateway", "agents", "monitoring", "milvus"):
        assert re.search(rf"helm uninstall demo-{stage} --namespace team-a", out), out
    deletes = [line for line in out.splitlines() if " delete " in line]
    assert deletes
    for line in deletes:
        assert "-n team-a" in line
        assert re.search(r"-l \S*demo", line), line  # always by this release's label
        assert "--all" not in line
    assert "delete pvc -l inferstack.io/release=demo" in out


def test_stages_install_one_component_each_with_shared_names() -> None:
    values = "VALUES=deploy/helm/inferstack/values-graviton-gpu.yaml"
    base = dry_run("setup-base", values, "RELEASE=demo")
    assert "gpu-operator" in base and "kuberay-operator" in base
    assert "demo-nodepools" in base and "components={nodepools}" in base
    models = dry_run("setup-models", values, "RELEASE=demo")
    assert "fullnameOverride=demo" in models and "components={models}" in models
    assert "wait rayservice -l inferstack.io/release=demo" in models
    laptop = dry_run("setup-base", "VALUES=deploy/helm/inferstack/values-laptop.yaml")
    assert "gpu-operator" not in laptop


def test_deploy_targets_call_the_cli() -> None:
    text = CLUSTER_MK.read_text()
    for action in ("render", "validate"):
        recipe = rf"^deploy-{action}:.*\n(\t.*\n)*\t\$\(INFERSTACK\) deploy {action}"
        assert re.search(recipe, text, re.M), action
