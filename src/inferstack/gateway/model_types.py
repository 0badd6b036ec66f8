"""Wire types of ``/model/*`` (LiteLLM's shapes) and their mapping onto a deployment config."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from inferstack.errors import InvalidRequestError
from inferstack.gateway.settings import DeploymentConfig

__all__ = [
    "ModelDeleteRequest",
    "ModelNewRequest",
    "ModelUpdateRequest",
    "deployment_config",
    "public_params",
]

# LiteLLM's provider prefixes for an OpenAI-compatible server: the gateway speaks only that.
_OPENAI_PREFIXES = ("openai/", "hosted_vllm/", "openai_compatible/")
_ENV = "os.environ/"
# litellm_params field → DeploymentConfig field (and a factor for per-token prices)
_FIELDS: dict[str, tuple[str, float]] = {
    "api_base": ("api_base", 1.0),
    "api_key_env": ("api_key_env", 1.0),
    "rpm": ("rpm", 1.0),
    "tpm": ("tpm", 1.0),
    "weight": ("weight", 1.0),
    "timeout": ("timeout_s", 1.0),
    "input_cost_per_token": ("input_cost_per_million", 1e6),
    "output_cost_per_token": ("output_cost_per_million", 1e6),
    "input_cost_per_million": ("input_cost_per_million", 1.0),
    "output_cost_per_million": ("output_cost_per_million", 1.0),
    "cost_per_second": ("cost_per_second", 1.0),
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelNewRequest(_Body):
    """Body of ``POST /model/new``."""

    model_name: str = Field(
        min_length=1, max_length=255, pattern=r"^[^*]+$", description="The public model name"
    )
    litellm_params: dict[str, Any] = Field(description="model, api_base, api_key, rpm, tpm, …")
    model_info: dict[str, Any] = Field(
        default_factory=dict, description="id, access_groups and free-form fields"
    )


class ModelUpdateRequest(_Body):
    """Body of ``POST /model/update``: ``litellm_params`` and ``model_info`` are merged."""

    model_id: str
    model_name: str | None = Field(default=None, min_length=1, max_length=255, pattern=r"^[^*]+$")
    litellm_params: dict[str, Any] | None = None
    model_info: dict[str, Any] | None = None


class ModelDeleteRequest(_Body):
    id: str


def _upstream_model(params: dict[str, Any], model_name: str) -> str:
    model = params.get("model", model_name)
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("must be a model name", param="litellm_params.model")
    for prefix in _OPENAI_PREFIXES:
        if model.startswith(prefix):
            return model[len(prefix) :]
    return model


def deployment_config(model_name: str, model_id: str, params: dict[str, Any]) -> DeploymentConfig:
    """The deployment config of LiteLLM-style ``params``; 400 naming the bad field."""
    values: dict[str, Any] = {"name": model_id, "model": _upstream_model(params, model_name)}
    for name, value in params.items():
        if name in ("model", "api_key"):
            continue
        if name not in _FIELDS:
            raise InvalidRequestError(
                f"unknown field; known: model, api_key, {', '.join(_FIELDS)}",
                param=f"litellm_params.{name}",
            )
        target, factor = _FIELDS[name]
        values[target] = (
            value * factor if factor != 1.0 and isinstance(value, int | float) else value
        )
    key = params.get("api_key")
    if isinstance(key, str) and key.startswith(_ENV):
        values["api_key_env"] = key[len(_ENV) :]
    elif key is not None:
        values["api_key"] = key
    try:
        config = DeploymentConfig(**values)
        config.bearer_token()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "api_base"
        back = {target: name for name, (target, _) in _FIELDS.items()}
        raise InvalidRequestError(
            f"{first.get('msg', 'invalid')}", param=f"litellm_params.{back.get(field, field)}"
        ) from exc
    except ValueError as exc:
        raise InvalidRequestError(str(exc), param="litellm_params.api_key") from exc
    return config


def public_params(config: DeploymentConfig) -> dict[str, Any]:
    """What ``/model/info`` shows of a deployment: never its key."""
    return {
        "model": config.model,
        "api_base": config.api_base,
        "rpm": config.rpm,
        "tpm": config.tpm,
        "weight": config.weight,
        "timeout": config.timeout_s,
        "input_cost_per_million": config.input_cost_per_million,
        "output_cost_per_million": config.output_cost_per_million,
        "cost_per_second": config.cost_per_second,
        "api_key_env": config.api_key_env,
        "has_api_key": config.api_key is not None or config.api_key_env is not None,
    }
