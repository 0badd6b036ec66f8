"""The Ray Serve config file (``serveConfigV2`` shape) that ``inferstack up --ray`` runs locally."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

__all__ = ["local_serve_config", "write_config"]

IMPORT_PATH = "inferstack.serving.ray_app:build_app"


def local_serve_config(
    wanted: dict[str, tuple[str, int, str]],
    *,
    host: str,
    port: int,
    parallel: int | None,
    ctx_size: int | None,
    max_ongoing: int | None = None,
    max_queued: int | None = None,
) -> dict[str, Any]:
    """One application per model (name → (model, port, engine)) behind one Serve proxy; the
    first is served at ``/``, the others at ``/<name>``. Replicas reserve a share of this
    machine's CPUs so that all of them fit on it. ``max_ongoing``/``max_queued`` bound each
    application's requests in flight and waiting (beyond them Serve answers 429)."""
    from inferstack.serving.ray_args import RayAppArgs

    cpus = os.cpu_count() or 1
    share = max(cpus / len(wanted), 0.5)
    apps = []
    for index, (name, (model, _port, engine)) in enumerate(wanted.items()):
        args: dict[str, Any] = {
            "model": model,
            "engine": engine,
            "threads": cpus if engine == "llamacpp" else 1,
            "num_replicas": 1,
            "ray_actor_options": {"num_cpus": share},
        }
        if engine == "llamacpp" and parallel:
            args["parallel"] = parallel
        if engine == "llamacpp" and ctx_size:
            args["ctx_size"] = ctx_size
        if max_ongoing is not None:
            args["max_ongoing_requests"] = max_ongoing
        if max_queued is not None:
            args["max_queued_requests"] = max_queued
        RayAppArgs.model_validate(args)  # a typo fails here, not inside a replica
        apps.append(
            {
                "name": name,
                "route_prefix": "/" if index == 0 else f"/{name}",
                "import_path": IMPORT_PATH,
                "args": args,
            }
        )
    return {"http_options": {"host": host, "port": port}, "applications": apps}


def write_config(config: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
