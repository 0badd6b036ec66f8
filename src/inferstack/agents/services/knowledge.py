"""POST /embed: ingest documents into the knowledge base (mounted only when there is one)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from inferstack.agents.services.http import read_json
from inferstack.errors import UnsupportedFeatureError

__all__ = ["EmbedRequest", "router"]

router = APIRouter()
Scalar = str | int | float | bool


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=1024)
    text: str = Field(max_length=10_000_000)
    source: str | None = Field(default=None, max_length=4096)
    metadata: dict[str, Scalar] = Field(default_factory=dict)


class EmbedRequest(BaseModel):
    """Documents to add or replace (by id) and ids to remove."""

    model_config = ConfigDict(extra="forbid")
    documents: list[DocumentIn] = Field(default_factory=list, max_length=10_000)
    remove: list[str] = Field(default_factory=list, max_length=10_000)


@router.post("/embed")
async def embed(request: Request) -> dict[str, Any]:
    body = await read_json(request, EmbedRequest, max_bytes=request.app.state.max_body_bytes)
    kb = request.app.state.knowledge
    ingest = getattr(kb, "ingest", None)
    if ingest is None:
        raise UnsupportedFeatureError("this knowledge base does not take documents")
    result: dict[str, Any] = await ingest(body.model_dump(exclude_none=True))
    return result
