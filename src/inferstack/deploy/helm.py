"""``helm lint`` and ``helm template`` as functions."""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Helm", "HelmResult"]

log = logging.getLogger(__name__)

# Everything the chart renders is validated offline, so tell helm the API groups exist.
API_VERSIONS = (
    "ray.io/v1",
    "karpenter.sh/v1",
    "karpenter.k8s.aws/v1",
    "monitoring.coreos.com/v1",
)


@dataclass(frozen=True)
class HelmResult:
    ok: bool
    output: str


class Helm:
    """One chart and the helm binary that renders it."""

    def __init__(self, binary: Path, chart_dir: Path, *, timeout_s: float = 120.0) -> None:
        self.binary = binary
        self.chart_dir = chart_dir
        self.timeout_s = timeout_s

    def _run(self, args: list[str]) -> HelmResult:
        cmd = [str(self.binary), *args]
        log.debug("running %s", " ".join(cmd))
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=self.timeout_s, check=False
        )
        return HelmResult(ok=proc.returncode == 0, output=proc.stdout + proc.stderr)

    @staticmethod
    def _values_args(values_files: list[Path]) -> list[str]:
        return [arg for f in values_files for arg in ("--values", str(f))]

    def lint(self, values_files: list[Path]) -> HelmResult:
        values = self._values_args(values_files)
        return self._run(["lint", "--strict", str(self.chart_dir), *values])

    def template_text(
        self,
        values_files: list[Path],
        *,
        release: str = "inferstack",
        namespace: str = "inferstack",
        set_values: list[str] | None = None,
    ) -> HelmResult:
        args = ["template", release, str(self.chart_dir), "--namespace", namespace]
        args += self._values_args(values_files)
        for api in API_VERSIONS:
            args += ["--api-versions", api]
        for item in set_values or []:
            args += ["--set", item]
        return self._run(args)

    def template(self, values_files: list[Path], **kwargs: Any) -> list[dict[str, Any]]:
        """Rendered objects; raises ``RuntimeError`` with helm's output when it fails."""
        result = self.template_text(values_files, **kwargs)
        if not result.ok:
            raise RuntimeError(result.output.strip())
        return [doc for doc in yaml.safe_load_all(result.output) if doc]
