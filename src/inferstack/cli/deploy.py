"""``inferstack deploy``: render the Helm chart and validate it offline.

::

    inferstack deploy render --output DIR [--values FILE]   # one manifest file per object
    inferstack deploy validate [--values FILE ...]          # helm lint/template + schema checks

helm comes from ``deploy/tools/install-helm.sh`` (``.cache/tools/bin/helm``), ``$INFERSTACK_HELM``
or ``PATH``; the CRD schemas from ``../shared/schemas`` or ``$INFERSTACK_SCHEMAS_DIR``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "deploy",
        help="render and validate the Kubernetes deployment",
        description="Render the Helm chart (deploy/helm/inferstack) to manifests, or validate "
        "it offline for every values file: helm lint, helm template, built-in kinds, KubeRay "
        "and Karpenter CRD schemas, and each Ray Serve application's args.",
    )
    actions = parser.add_subparsers(dest="deploy_command", metavar="ACTION", required=True)
    render = actions.add_parser("render", help="write the rendered manifests, one file per object")
    render.add_argument("--output", required=True, type=Path, help="directory to write into")
    render.add_argument(
        "--values", type=Path, default=None, help="values file over the chart's defaults"
    )
    render.add_argument(
        "--release", default="inferstack", help="release name (default: inferstack)"
    )
    render.add_argument("--namespace", default="inferstack", help="namespace (default: inferstack)")
    validate = actions.add_parser("validate", help="run the offline checks over every values file")
    validate.add_argument(
        "--values",
        type=Path,
        action="append",
        default=None,
        help="check only this values file (repeatable; default: every values-*.yaml)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inferstack.deploy.paths import DeployToolError

    try:
        if args.deploy_command == "render":
            return _render(args)
        return _validate(args)
    except (DeployToolError, FileNotFoundError, RuntimeError) as exc:
        print(f"inferstack deploy: {exc}", file=sys.stderr)
        return 1


def _render(args: argparse.Namespace) -> int:
    from inferstack.deploy import render

    written = render(args.values, args.output, release=args.release, namespace=args.namespace)
    print(f"wrote {len(written)} manifests to {args.output}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from inferstack.deploy import validate

    problems = validate(values_files=args.values)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("chart valid for every values file")
    return 0
