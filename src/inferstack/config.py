"""Settings base: every component owns a pydantic-settings class derived from :class:`Settings`.

The environment is read here and nowhere else (prefix ``INFERSTACK_``); CLI flags and YAML files
load into the same models through :meth:`Settings.from_sources`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

import yaml
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

__all__ = ["Settings", "SharedEnvSource", "default_state_dir"]


def default_state_dir() -> Path:
    """Where the local stack keeps its state (``stack.json``, keys, databases)."""
    return Path.home() / ".inferstack"


class Settings(BaseSettings):
    """Base of every component's settings (environment prefix ``INFERSTACK_``)."""

    model_config = SettingsConfigDict(env_prefix="INFERSTACK_", extra="forbid")

    shared_env: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    """Variables of another component read into (nested) fields of this one, after this
    component's own variables: ``{"INFERSTACK_AGENTS_WEBSEARCH__API_KEY": ("websearch",
    "api_key")}`` lets one key configure two components."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        shared = SharedEnvSource(settings_cls, cls.shared_env)
        return init_settings, env_settings, shared, dotenv_settings, file_secret_settings

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


class SharedEnvSource(PydanticBaseSettingsSource):
    """Named environment variables into (nested) field paths; see :attr:`Settings.shared_env`."""

    def __init__(
        self, settings_cls: type[BaseSettings], names: Mapping[str, tuple[str, ...]]
    ) -> None:
        super().__init__(settings_cls)
        self.names = names

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ builds the whole mapping

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for var, path in self.names.items():
            value = os.environ.get(var)
            if value is None:
                continue
            node = out
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = value
        return out
