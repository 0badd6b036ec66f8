"""Settings base: every component owns a pydantic-settings class derived from :class:`Settings`.

The environment is read here and nowhere else (prefix ``INFERSTACK_``); CLI flags and YAML files
load into the same models through :meth:`Settings.from_sources`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import yaml
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "default_state_dir"]


def default_state_dir() -> Path:
    """Where the local stack keeps its state (``stack.json``, keys, databases)."""
    return Path.home() / ".inferstack"


class Settings(BaseSettings):
    """Base of every component's settings (environment prefix ``INFERSTACK_``)."""

    model_config = SettingsConfigDict(env_prefix="INFERSTACK_", extra="forbid")

    @classmethod
    def from_sources(cls, yaml_file: str | Path | None = None, **overrides: Any) -> Self:
        """Build settings from the environment, then a YAML file, then explicit overrides.

        Overrides whose value is ``None`` are ignored, so unset CLI flags keep the defaults.
        """
        values: dict[str, Any] = {}
        if yaml_file is not None:
            loaded = yaml.safe_load(Path(yaml_file).read_text()) or {}
            if not isinstance(loaded, dict):
                raise ValueError(f"{yaml_file}: expected a mapping at the top level")
            values.update(loaded)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
