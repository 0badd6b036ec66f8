"""Checks of a RayService's ``serveConfigV2``: the Serve config shape and each app's args."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from inferstack.serving.ray_args import RayAppArgs

__all__ = ["SERVE_IMPORT_PATH", "ServeApplication", "ServeConfig", "serve_config_errors"]

SERVE_IMPORT_PATH = "inferstack.serving.ray_app:build_app"
"""The builder every inferstack Serve application must use."""


class ServeApplication(BaseModel):
    """One entry of ``applications`` (the part of Ray's schema the chart uses)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    route_prefix: str | None = "/"
    import_path: str
    args: dict[str, Any] = Field(default_factory=dict)
    runtime_env: dict[str, Any] | None = None


class ServeConfig(BaseModel):
    """Top level of a Serve config file (``serve deploy`` / ``serveConfigV2``)."""

    model_config = ConfigDict(extra="forbid")

    proxy_location: str | None = None
    http_options: dict[str, Any] | None = None
    grpc_options: dict[str, Any] | None = None
    logging_config: dict[str, Any] | None = None
    applications: list[ServeApplication] = Field(min_length=1)


def _pydantic_errors(prefix: str, exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        out.append(f"{prefix}{'.' + loc if loc else ''}: {err['msg']}")
    return out


def serve_config_errors(text: str) -> list[str]:
    """Problems of one ``serveConfigV2`` document; empty when it is valid."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return [f"serveConfigV2 is not YAML: {exc}"]
    try:
        config = ServeConfig.model_validate(data)
    except ValidationError as exc:
        return _pydantic_errors("serveConfigV2", exc)
    errors: list[str] = []
    names = [app.name for app in config.applications]
    if len(set(names)) != len(names):
        errors.append(f"serveConfigV2.applications: duplicate names {names}")
    for i, app in enumerate(config.applications):
        prefix = f"serveConfigV2.applications[{i}] ({app.name})"
        if app.import_path != SERVE_IMPORT_PATH:
            errors.append(
                f"{prefix}.import_path: {app.import_path!r}, expected {SERVE_IMPORT_PATH!r}"
            )
        try:
            RayAppArgs.model_validate(app.args)
        except ValidationError as exc:
            errors.extend(_pydantic_errors(f"{prefix}.args", exc))
    return errors
