"""``inferstack deploy render``: the chart's manifests as files, one object per file."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from inferstack.deploy.helm import Helm
from inferstack.deploy.paths import ChartPaths, find_helm

__all__ = ["render"]


def _file_name(index: int, obj: dict) -> str:
    name = (obj.get("metadata") or {}).get("name", "unnamed")
    stem = re.sub(r"[^a-z0-9.-]+", "-", f"{obj.get('kind', 'object')}-{name}".lower())
    return f"{index:02d}-{stem}.yaml"


def render(
    values_file: Path | None,
    output_dir: Path,
    *,
    release: str = "inferstack",
    namespace: str = "inferstack",
    paths: ChartPaths | None = None,
) -> list[Path]:
    """Render the chart (with ``values_file`` over its defaults) into ``output_dir``.

    Returns the written files; ``kubectl apply -f output_dir`` applies them. Raises
    ``RuntimeError`` with helm's message when the chart does not render.
    """
    paths = paths or ChartPaths.discover()
    helm = Helm(find_helm(paths.repo_root), paths.chart_dir)
    values = [values_file] if values_file else []
    objects = helm.template(values, release=release, namespace=namespace)
    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for index, obj in enumerate(objects):
        path = output_dir / _file_name(index, obj)
        path.write_text(yaml.safe_dump(obj, sort_keys=False))
        written.append(path)
    return written
