"""The review queue's HTTP routes under ``/v1/idp``; thin: parse, call :class:`ReviewQueue`,
return JSON."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from inferstack.idp.review import ReviewQueue
from inferstack.idp.uploads import process_upload

__all__ = ["ApproveBody", "RejectBody", "router"]

router = APIRouter(prefix="/v1/idp")


class ApproveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reviewer: str = Field(min_length=1, max_length=128, description="Who approves.")
    corrections: dict[str, Any] = Field(
        default_factory=dict, description="Field values that replace the extracted ones."
    )
    note: str = Field("", max_length=2000)


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reviewer: str = Field(min_length=1, max_length=128)
    note: str = Field(min_length=1, max_length=2000, description="Why it is rejected.")


def _queue(request: Request) -> ReviewQueue:
    queue: ReviewQueue = request.app.state.review_queue
    return queue


@router.get("/documents")
def list_documents(
    request: Request,
    status: str | None = Query(None, description="pending, auto_approved, approved, rejected"),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """Documents, lowest confidence first."""
    return {"object": "list", "data": _queue(request).list(status, limit)}


@router.post("/documents")
async def upload_document(
    request: Request,
    filename: str = Query(..., min_length=1, max_length=512, description="Name with suffix."),
    schema: str = Query("invoice", description="A built-in schema name."),
) -> dict[str, Any]:
    """Process the request body (a PDF or image file) to ``schema`` and store it."""
    from starlette.concurrency import run_in_threadpool

    data = await request.body()
    processor = request.app.state.processor
    return await run_in_threadpool(process_upload, processor, data, filename, schema)


@router.get("/documents/{document_id}")
def get_document(request: Request, document_id: int) -> dict[str, Any]:
    return _queue(request).get(document_id)


@router.post("/documents/{document_id}/approve")
def approve_document(request: Request, document_id: int, body: ApproveBody) -> dict[str, Any]:
    return _queue(request).approve(document_id, body.reviewer, body.corrections, body.note)


@router.post("/documents/{document_id}/reject")
def reject_document(request: Request, document_id: int, body: RejectBody) -> dict[str, Any]:
    return _queue(request).reject(document_id, body.reviewer, body.note)
