"""Shared bases of the OpenAI wire types, and the sampling fields every generation request has.

Requests derive from :class:`OpenAIModel`: OpenAI clients send fields we do not know (``store``,
``metadata``, new parameters), so unknown fields are kept, logged at debug level and ignored.
Responses derive from :class:`ResponseModel`, which omits optional fields that are ``None`` the
way OpenAI does, except the ones OpenAI always sends (``finish_reason: null``).
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Protocol

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SerializerFunctionWrapHandler,
    Tag,
    model_serializer,
    model_validator,
)

__all__ = [
    "OpenAIModel",
    "PromptTokensDetails",
    "ResponseModel",
    "Usage",
    "discriminated_by",
    "now",
    "random_id",
    "sampling_options",
    "tag",
]

logger = logging.getLogger(__name__)


class OpenAIModel(BaseModel):
    """Base of every request type: unknown fields are accepted, kept and logged, never an error."""

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="after")
    def _log_unknown_fields(self) -> OpenAIModel:
        if self.model_extra:
            logger.debug(
                "%s: ignoring unknown fields %s", type(self).__name__, sorted(self.model_extra)
            )
        return self


class ResponseModel(BaseModel):
    """Base of every response type.

    Extra fields are kept so a gateway that parses an upstream's answer passes them through.
    ``None`` values are left out of the output unless the wire name is in ``nullable_fields``.
    """

    model_config = ConfigDict(extra="allow")
    nullable_fields: ClassVar[frozenset[str]] = frozenset()

    # NOTE: no return annotation on purpose: pydantic then keeps the model's own JSON schema
    # for serialization instead of a bare ``dict``.
    @model_serializer(mode="wrap")
    def _omit_none(self, handler: SerializerFunctionWrapHandler):
        data = handler(self)
        keep = self.nullable_fields
        return {key: value for key, value in data.items() if value is not None or key in keep}


def tag(field: str, value: str) -> Tag:
    """The union tag of the member whose ``field`` is ``value`` (see :func:`discriminated_by`)."""
    return Tag(f"{field}={value}")


def discriminated_by(field: str, choices: Sequence[str]) -> Discriminator:
    """A discriminator on ``field`` for a union whose members are marked with :func:`tag`.

    The tags read ``role=user``, never a bare value, so :func:`validation_error_param` can tell
    a tag in an error location from a field name (``function`` is both a role and a field).
    """

    def tag_of(value: Any) -> str | None:
        raw = value.get(field) if isinstance(value, dict) else getattr(value, field, None)
        return f"{field}={raw}" if isinstance(raw, str) else None

    allowed = ", ".join(repr(choice) for choice in choices)
    return Discriminator(
        tag_of,
        custom_error_type=f"invalid_{field}",
        custom_error_message=f"'{field}' must be one of {allowed}",
    )


def random_id(prefix: str) -> str:
    """A fresh OpenAI-style object id such as ``chatcmpl-3f2a…``."""
    return f"{prefix}-{secrets.token_hex(12)}"


def now() -> int:
    """The current Unix time in whole seconds, as OpenAI's ``created`` fields carry it."""
    return int(time.time())


class PromptTokensDetails(ResponseModel):
    cached_tokens: int = 0


class Usage(ResponseModel):
    """Token counts of one chat or text completion."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails | None = None

    @classmethod
    def of(cls, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> Usage:
        """Usage with ``total_tokens`` summed and cached prompt tokens reported."""
        return cls(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
            prompt_tokens_details=PromptTokensDetails(cached_tokens=cached_tokens),
        )


class _SamplingFields(Protocol):
    """What :func:`sampling_options` reads from a chat or completion request."""

    @property
    def temperature(self) -> float | None: ...
    @property
    def top_p(self) -> float | None: ...
    @property
    def top_k(self) -> int | None: ...
    @property
    def min_p(self) -> float | None: ...
    @property
    def presence_penalty(self) -> float | None: ...
    @property
    def frequency_penalty(self) -> float | None: ...
    @property
    def repetition_penalty(self) -> float | None: ...
    @property
    def seed(self) -> int | None: ...
    @property
    def logit_bias(self) -> dict[str, float] | None: ...
    @property
    def stop(self) -> str | list[str] | None: ...
    @property
    def ignore_eos(self) -> bool: ...


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


OPENAI_SAMPLING_DEFAULTS: dict[str, Any] = {
    "temperature": 1.0,
    "top_p": 1.0,
    "top_k": 0,
    "min_p": 0.0,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "repetition_penalty": 1.0,
}


def sampling_options(
    request: _SamplingFields,
    max_tokens: int | None,
    defaults: Mapping[str, Any] | None = None,
    *,
    logprobs: int | None = None,
) -> dict[str, Any]:
    """The engine's sampling parameters for ``request``; what it omits comes from ``defaults``
    (a model's own generation defaults, ``max_tokens`` among them), then from OpenAI's.

    The keys are exactly the fields of ``inferstack.engines.base.SamplingParams`` that a request
    sets; ``top_k`` of -1 (vLLM's "disabled") becomes 0, the engine's "disabled". ``logprobs``
    is the number of alternatives to report per token (``None``: no log probabilities).
    """
    stop = request.stop
    base = {**OPENAI_SAMPLING_DEFAULTS, **(defaults or {})}
    return {
        "max_tokens": _or(max_tokens, base.get("max_tokens")),
        "temperature": float(_or(request.temperature, base["temperature"])),
        "top_p": float(_or(request.top_p, base["top_p"])),
        "top_k": max(0, _or(request.top_k, base["top_k"])),
        "min_p": float(_or(request.min_p, base["min_p"])),
        "presence_penalty": float(_or(request.presence_penalty, base["presence_penalty"])),
        "frequency_penalty": float(_or(request.frequency_penalty, base["frequency_penalty"])),
        "repetition_penalty": float(_or(request.repetition_penalty, base["repetition_penalty"])),
        "seed": request.seed,
        "logit_bias": {int(k): float(v) for k, v in (request.logit_bias or {}).items()},
        "stop": [stop] if isinstance(stop, str) else list(stop or []),
        "ignore_eos": request.ignore_eos,
        "logprobs": logprobs,
    }


_TOKEN_ID = re.compile(r"[0-9]{1,10}")


def _check_logit_bias(value: dict[str, float]) -> dict[str, float]:
    # ASCII digits only: str.isdigit() takes "²" and "٣", which int() then refuses or reads
    # as another number; ten digits bound the value (int() refuses 4,300 digits and more).
    for key in value:
        if not _TOKEN_ID.fullmatch(key):
            raise ValueError(f"keys must be token ids (decimal integers), got {key[:20]!r}")
    return value


def only_one(name: str) -> Callable[[int | None], int | None]:
    """A field validator that accepts ``name`` only as 1 or absent: we generate one choice."""

    def check(value: int | None) -> int | None:
        if value is not None and value != 1:
            raise ValueError(f"only {name}=1 is supported, got {value}")
        return value

    return check


# Field types with the bounds OpenAI documents, shared by chat and completions.
Penalty = Annotated[float, Field(ge=-2.0, le=2.0)]
Temperature = Annotated[float, Field(ge=0.0, le=2.0)]
TopP = Annotated[float, Field(gt=0.0, le=1.0)]
PositiveInt = Annotated[int, Field(ge=1)]
LogitBias = Annotated[
    dict[str, Annotated[float, Field(ge=-100.0, le=100.0)]], AfterValidator(_check_logit_bias)
]
Stop = str | Annotated[list[str], Field(max_length=4)]
# Our extensions (vLLM / llama.cpp sampling knobs).
TopK = Annotated[int, Field(ge=-1)]
MinP = Annotated[float, Field(ge=0.0, le=1.0)]
RepetitionPenalty = Annotated[float, Field(gt=0.0)]
