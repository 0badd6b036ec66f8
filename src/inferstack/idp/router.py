"""The IDP service's HTTP routes under ``/v1/idp``; thin: parse, call :class:`ReviewQueue` (or
the processor for uploads and reprocessing), return JSON."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from inferstack.idp.review import ReviewQueue
from inferstack.idp.uploads import process_upload

__all__ = ["ApproveBody", "CorrectBody", "RejectBody", "ReviewerBody", "SkipBody", "router"]

router = APIRouter(prefix="/v1/idp")


class ReviewerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reviewer: str = Field(min_length=1, max_length=128, description="Who acts.")


class CorrectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reviewer: str = Field(min_length=1, max_length=128, description="Who corrects.")
    corrections: dict[str, Any] = Field(description="Field values that replace the extracted ones.")
    note: str = Field("", max_length=2000)


class SkipBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reviewer: str = Field(min_length=1, max_length=128)
    note: str = Field("", max_length=2000, description="Why it is skipped.")


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
    status: str | None = Query(
        None, description="pending, in_progress, auto_approved, approved, rejected, skipped"
    ),
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


@router.get("/documents/{document_id}/pages")
def get_pages(request: Request, document_id: int) -> dict[str, Any]:
    """The pages as read: size, source, rotation, lines of words with boxes and confidences."""
    return {"object": "list", "data": _queue(request).pages(document_id)}


@router.post("/documents/{document_id}/approve")
def approve_document(request: Request, document_id: int, body: ApproveBody) -> dict[str, Any]:
    return _queue(request).approve(document_id, body.reviewer, body.corrections, body.note)


@router.post("/documents/{document_id}/reject")
def reject_document(request: Request, document_id: int, body: RejectBody) -> dict[str, Any]:
    return _queue(request).reject(document_id, body.reviewer, body.note)


@router.post("/documents/{document_id}/claim")
def claim_document(request: Request, document_id: int, body: ReviewerBody) -> dict[str, Any]:
    """Pending (or skipped) → in progress, held by ``reviewer``."""
    return _queue(request).claim(document_id, body.reviewer)


@router.post("/documents/{document_id}/release")
def release_document(request: Request, document_id: int, body: ReviewerBody) -> dict[str, Any]:
    """In progress → pending, by whoever claimed it."""
    return _queue(request).release(document_id, body.reviewer)


@router.post("/documents/{document_id}/correct")
def correct_document(request: Request, document_id: int, body: CorrectBody) -> dict[str, Any]:
    return _queue(request).correct(document_id, body.reviewer, body.corrections, body.note)


@router.post("/documents/{document_id}/skip")
def skip_document(request: Request, document_id: int, body: SkipBody) -> dict[str, Any]:
    return _queue(request).skip(document_id, body.reviewer, body.note)


@router.post("/documents/{document_id}/ground-truth")
def save_ground_truth(request: Request, document_id: int, body: ReviewerBody) -> dict[str, Any]:
    """Keep an approved document's values as the truth for its file."""
    return _queue(request).save_ground_truth(document_id, body.reviewer)


@router.post("/documents/{document_id}/reprocess")
async def reprocess_document(
    request: Request, document_id: int, body: ReviewerBody
) -> dict[str, Any]:
    """Run the document's kept file through the pipeline again (values, scores, status)."""
    from starlette.concurrency import run_in_threadpool

    processor = request.app.state.processor
    await run_in_threadpool(processor.reprocess, document_id, body.reviewer)
    return _queue(request).get(document_id)


@router.get("/ground-truth")
def list_ground_truth(
    request: Request, schema: str | None = Query(None, description="Only this schema.")
) -> dict[str, Any]:
    return {"object": "list", "data": _queue(request).ground_truth(schema)}
