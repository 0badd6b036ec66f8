"""``inferstack deploy validate``: lint, render and schema-check the chart for every values file."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from inferstack.deploy.helm import Helm
from inferstack.deploy.paths import ChartPaths, find_helm
from inferstack.deploy.schemas import UNCHECKED_KINDS, CrdSchemas, builtin_errors
from inferstack.deploy.serve_config import serve_config_errors

__all__ = ["COMPONENTS", "Problem", "validate", "validate_manifests"]

log = logging.getLogger(__name__)

COMPONENTS = ("nodepools", "models", "gateway", "agents", "monitoring")
"""The chart's components; deploy/cluster.mk installs one release per component."""


@dataclass(frozen=True)
class Problem:
    """One finding: where (values file, object) and what."""

    source: str
    obj: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.obj}: {self.message}"


def _name(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind', '?')}/{(obj.get('metadata') or {}).get('name', '?')}"


def _gateway_config_errors(obj: dict[str, Any]) -> list[str]:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    text = (obj.get("data") or {}).get("gateway.yaml")
    if labels.get("app.kubernetes.io/component") != "gateway" or text is None:
        return []
    # Imported here: the gateway package is heavy and ``render`` does not need it.
    from inferstack.gateway.settings import GatewaySettings

    try:
        GatewaySettings.model_validate(yaml.safe_load(text) or {})
    except ValidationError as exc:
        return [f"gateway.yaml: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
    return []


def _object_errors(obj: dict[str, Any], crds: CrdSchemas) -> list[str]:
    key = (obj.get("apiVersion", ""), obj.get("kind", ""))
    if key in UNCHECKED_KINDS:
        errors = [] if (obj.get("metadata") or {}).get("name") else ["metadata.name missing"]
    else:
        found = crds.errors(obj)
        if found is None:
            found = builtin_errors(obj)
        errors = found if found is not None else [f"no schema for {key[0]} {key[1]}"]
    if key[1] == "RayService":
        text = (obj.get("spec") or {}).get("serveConfigV2")
        errors += ["spec.serveConfigV2 missing"] if text is None else serve_config_errors(text)
    if key == ("v1", "ConfigMap"):
        errors += _gateway_config_errors(obj)
    return errors


def validate_manifests(
    objects: Iterable[dict[str, Any]], crds: CrdSchemas, source: str = "<manifests>"
) -> list[Problem]:
    """Schema and Serve-args problems of rendered objects."""
    problems = []
    for obj in objects:
        problems += [Problem(source, _name(obj), msg) for msg in _object_errors(obj, crds)]
    return problems


def _keys(objects: Iterable[dict[str, Any]]) -> set[str]:
    return {_name(obj) for obj in objects}


def _validate_values(
    helm: Helm, crds: CrdSchemas, values: list[Path], source: str
) -> list[Problem]:
    lint = helm.lint(values)
    if not lint.ok:
        return [Problem(source, "helm lint", lint.output.strip())]
    try:
        objects = helm.template(values)
    except RuntimeError as exc:
        return [Problem(source, "helm template", str(exc))]
    problems = validate_manifests(objects, crds, source)
    # The per-stage releases of deploy/cluster.mk must add up to the whole chart.
    staged: set[str] = set()
    for component in COMPONENTS:
        try:
            staged |= _keys(helm.template(values, set_values=[f"components={{{component}}}"]))
        except RuntimeError as exc:
            problems.append(Problem(source, f"helm template (components={component})", str(exc)))
    missing = _keys(objects) - staged
    if missing:
        problems.append(Problem(source, "components", f"in no stage release: {sorted(missing)}"))
    log.info("%s: %d objects, %d problems", source, len(objects), len(problems))
    return problems


def validate(
    paths: ChartPaths | None = None, values_files: list[Path] | None = None
) -> list[Problem]:
    """Lint, render and check the chart with ``values_files`` (by default: the chart's own
    defaults alone, then each ``values-*.yaml``); an empty list means no problem was found."""
    paths = paths or ChartPaths.discover()
    helm = Helm(find_helm(paths.repo_root), paths.chart_dir)
    crds = CrdSchemas(paths.schemas_dir)
    if values_files is None:
        runs = [("values.yaml", []), *((p.name, [p]) for p in paths.values_files())]
    else:
        runs = [(p.name, [p]) for p in values_files]
    problems: list[Problem] = []
    for source, values in runs:
        problems += _validate_values(helm, crds, values, source)
    return problems
