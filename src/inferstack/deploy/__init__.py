"""Offline tooling for the Helm chart: render it and validate what it renders.

Nothing here talks to a cluster. ``render`` runs ``helm template``; ``validate`` runs
``helm lint`` and ``helm template`` over every values file and checks each rendered object
against its schema (built-in kinds, KubeRay and Karpenter CRDs) and each Ray Serve
application's ``args`` against :class:`inferstack.serving.ray_args.RayAppArgs`.
"""

from inferstack.deploy.paths import ChartPaths
from inferstack.deploy.render import render
from inferstack.deploy.validate import Problem, validate, validate_manifests

__all__ = ["ChartPaths", "Problem", "render", "validate", "validate_manifests"]
