"""Schema checks of rendered objects: built-in kinds and the CRDs of KubeRay and Karpenter.

CRD schemas are made strict the way ``kubectl apply --validate=strict`` is: an object schema
that lists ``properties`` rejects any other field unless it says
``x-kubernetes-preserve-unknown-fields``, so a misspelt field fails instead of being pruned.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

__all__ = ["UNCHECKED_KINDS", "CrdSchemas", "builtin_errors"]

KUBERNETES_VERSION = "1.32.0"
"""Kubernetes version of the built-in schemas (EKS standard support)."""

UNCHECKED_KINDS = frozenset(
    {
        # Prometheus Operator CRDs: no schema is available offline.
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
        ("monitoring.coreos.com/v1", "PodMonitor"),
        ("monitoring.coreos.com/v1", "PrometheusRule"),
    }
)


def builtin_errors(obj: dict[str, Any], version: str = KUBERNETES_VERSION) -> list[str] | None:
    """Errors of a built-in object, or ``None`` when it is not a built-in kind."""
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return None
    except kubernetes_validate.ValidationError as exc:
        return [_format(exc)]
    return []


def _format(exc: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in exc.absolute_path) or "<root>"
    return f"{where}: {exc.message}"


class CrdSchemas:
    """The v1 schemas of every CRD in a folder tree, keyed by (apiVersion, kind)."""

    def __init__(self, schemas_dir: Path, version: str = "v1") -> None:
        self.schemas_dir = schemas_dir
        self._validators: dict[tuple[str, str], jsonschema.Draft7Validator] = {}
        if not schemas_dir.is_dir():
            raise FileNotFoundError(
                f"CRD schemas not found at {schemas_dir} (set INFERSTACK_SCHEMAS_DIR)"
            )
        for path in sorted(schemas_dir.rglob("*.yaml")):
            for doc in yaml.safe_load_all(path.read_text()):
                if doc and doc.get("kind") == "CustomResourceDefinition":
                    self._add(doc, version)

    def _add(self, crd: dict[str, Any], version: str) -> None:
        spec = crd["spec"]
        for entry in spec["versions"]:
            if entry["name"] != version:
                continue
            schema = strict_schema(entry["schema"]["openAPIV3Schema"])
            key = (f"{spec['group']}/{version}", spec["names"]["kind"])
            self._validators[key] = jsonschema.Draft7Validator(schema)

    def kinds(self) -> set[tuple[str, str]]:
        return set(self._validators)

    def errors(self, obj: dict[str, Any]) -> list[str] | None:
        """Errors of a custom object, or ``None`` when no CRD here defines its kind."""
        validator = self._validators.get((obj.get("apiVersion", ""), obj.get("kind", "")))
        if validator is None:
            return None
        found = sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
        return [_format(e) for e in found]


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of an OpenAPI v3 structural schema with unknown fields forbidden."""
    result = copy.deepcopy(schema)
    for node in _walk(result):
        if node.get("nullable") and "type" in node:
            node["type"] = [node["type"], "null"]
        if (
            "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
    return result


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for key, value in node.items():
            if key in ("properties", "patternProperties", "definitions"):
                for child in value.values():
                    yield from _walk(child)
            elif key in ("items", "additionalProperties", "not"):
                yield from _walk(value)
            elif key in ("allOf", "anyOf", "oneOf"):
                for child in value:
                    yield from _walk(child)
