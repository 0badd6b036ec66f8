"""Where the chart, its values files, helm and the CRD schemas are."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CHART_SUBDIR", "ChartPaths", "DeployToolError", "find_helm"]

CHART_SUBDIR = Path("deploy/helm/inferstack")
HELM_ENV = "INFERSTACK_HELM"
SCHEMAS_ENV = "INFERSTACK_SCHEMAS_DIR"


class DeployToolError(RuntimeError):
    """A tool or file the deploy commands need is missing (local tooling, not an API error)."""


@dataclass(frozen=True)
class ChartPaths:
    """The repository's chart and the schemas it is validated against."""

    repo_root: Path
    chart_dir: Path
    schemas_dir: Path

    @classmethod
    def discover(cls, repo_root: Path | None = None) -> ChartPaths:
        """Find the repository holding the chart (from ``repo_root``, the cwd or this file).

        The schemas are ``$INFERSTACK_SCHEMAS_DIR`` if set, else ``<repo>/../shared/schemas``:
        CI clones the repository beside a read-only copy of ``shared/``.
        """
        root = repo_root or _find_repo_root()
        chart_dir = root / CHART_SUBDIR
        if not (chart_dir / "Chart.yaml").is_file():
            raise DeployToolError(f"no Helm chart at {chart_dir}")
        env_schemas = os.environ.get(SCHEMAS_ENV)
        schemas = Path(env_schemas) if env_schemas else root.parent / "shared" / "schemas"
        return cls(repo_root=root, chart_dir=chart_dir, schemas_dir=schemas)

    def values_files(self) -> list[Path]:
        """The chart's environment values files (``values-*.yaml``), sorted."""
        return sorted(self.chart_dir.glob("values-*.yaml"))


def _find_repo_root() -> Path:
    starts = [Path.cwd(), Path(__file__).resolve().parent]
    for start in starts:
        for candidate in (start, *start.parents):
            if (candidate / CHART_SUBDIR / "Chart.yaml").is_file():
                return candidate
    raise DeployToolError(
        f"cannot find {CHART_SUBDIR}/Chart.yaml above {Path.cwd()}; run from the repository"
    )


def find_helm(repo_root: Path) -> Path:
    """helm from ``$INFERSTACK_HELM``, ``<repo>/.cache/tools/bin/helm`` or ``PATH``."""
    env = os.environ.get(HELM_ENV)
    candidates = [Path(env)] if env else []
    candidates.append(repo_root / ".cache" / "tools" / "bin" / "helm")
    on_path = shutil.which("helm")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise DeployToolError(
        "helm not found: run deploy/tools/install-helm.sh (or set INFERSTACK_HELM)"
    )
