"""``GET /v1/models``: the models a server or gateway offers."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from inferstack.protocol.base import ResponseModel, now

__all__ = ["Model", "ModelList"]


class Model(ResponseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = Field(default_factory=now)
    owned_by: str = "inferstack"
    # -- inferstack extensions --
    capabilities: list[str] | None = None
    """What the model does: ``chat``, ``completions``, ``tools``, ``json_schema``,
    ``embeddings`` — so a client can pick a model that chats."""


class ModelList(ResponseModel):
    object: Literal["list"] = "list"
    data: list[Model]
