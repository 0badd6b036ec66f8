"""The review queue: list documents (lowest confidence first), read one with its history,
approve it (optionally correcting fields, validated against its schema) or reject it. Every
change is recorded with who, what and when."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from inferstack.errors import InvalidRequestError, NotFoundError
from inferstack.idp.decide import AUTO_APPROVED, PENDING
from inferstack.idp.store import DocumentRow, IdpStore, ReviewRow, utcnow

if TYPE_CHECKING:
    from inferstack.idp.metrics import IdpMetrics

__all__ = ["APPROVED", "REJECTED", "STATUSES", "ConflictError", "ReviewQueue"]

APPROVED = "approved"
REJECTED = "rejected"
STATUSES = (PENDING, AUTO_APPROVED, APPROVED, REJECTED)


class ConflictError(InvalidRequestError):
    """The document is not in a state that allows the action (e.g. approving it twice)."""

    status = 409
    default_code = "conflict"


class ReviewQueue:
    """Review operations on an :class:`IdpStore`."""

    def __init__(self, store: IdpStore, metrics: IdpMetrics | None = None) -> None:
        self.store = store
        self.metrics = metrics

    def list(self, status: str | None, limit: int) -> list[dict[str, Any]]:
        if status is not None and status not in STATUSES:
            raise InvalidRequestError(
                f"unknown status {status!r}: one of {', '.join(STATUSES)}", param="status"
            )
        query = select(DocumentRow).order_by(DocumentRow.min_confidence, DocumentRow.id)
        if status is not None:
            query = query.where(DocumentRow.status == status)
        with self.store.session() as s:
            return [row.to_dict() for row in s.scalars(query.limit(limit))]

    def get(self, document_id: int) -> dict[str, Any]:
        with self.store.session() as s:
            row = self._row(s, document_id)
            history = s.scalars(
                select(ReviewRow).where(ReviewRow.document_id == row.id).order_by(ReviewRow.id)
            )
            return {**row.to_dict(), "history": [h.to_dict() for h in history]}

    def approve(
        self, document_id: int, reviewer: str, corrections: dict[str, Any], note: str = ""
    ) -> dict[str, Any]:
        with self.store.session() as s:
            row = self._pending(s, document_id)
            values = {**row.values, **corrections}
            _check(values, corrections, row.schema)
            changes: dict[str, Any] = {"status": APPROVED}
            if corrections:
                changes["corrections"] = {
                    k: {"from": row.values.get(k), "to": v} for k, v in corrections.items()
                }
                fields = dict(row.fields)
                for k, v in corrections.items():
                    fields[k] = {**fields.get(k, {}), "value": v, "corrected": True}
                row.fields = fields
                row.values = values
            self._record(s, row, APPROVED, "approve", reviewer, changes, note)
        self._count("approve")
        return self.get(document_id)

    def reject(self, document_id: int, reviewer: str, note: str) -> dict[str, Any]:
        with self.store.session() as s:
            row = self._pending(s, document_id)
            self._record(s, row, REJECTED, "reject", reviewer, {"status": REJECTED}, note)
        self._count("reject")
        return self.get(document_id)

    def _count(self, action: str) -> None:
        if self.metrics is not None:
            self.metrics.reviews.labels(action).inc()

    @staticmethod
    def _record(
        s: Any,
        row: DocumentRow,
        status: str,
        action: str,
        reviewer: str,
        changes: dict[str, Any],
        note: str,
    ) -> None:
        row.status = status
        row.updated_at = utcnow()
        s.add(
            ReviewRow(
                document_id=row.id, action=action, reviewer=reviewer, changes=changes, note=note
            )
        )

    @staticmethod
    def _row(s: Any, document_id: int) -> DocumentRow:
        row = s.get(DocumentRow, document_id)
        if row is None:
            raise NotFoundError(f"no document {document_id}", param="document_id")
        return row

    def _pending(self, s: Any, document_id: int) -> DocumentRow:
        row = self._row(s, document_id)
        if row.status != PENDING:
            raise ConflictError(
                f"document {document_id} is {row.status}, not pending review", param="document_id"
            )
        return row


def _check(values: dict[str, Any], corrections: dict[str, Any], schema: dict[str, Any]) -> None:
    from jsonschema import Draft202012Validator

    unknown = sorted(set(corrections) - set(schema.get("properties", {})))
    if unknown:
        raise InvalidRequestError(
            f"unknown field {unknown[0]!r} for this schema", param=f"corrections.{unknown[0]}"
        )
    error = next(iter(Draft202012Validator(schema).iter_errors(values)), None)
    if error is not None:
        where = ".".join(str(p) for p in error.path)
        raise InvalidRequestError(
            f"corrected document does not satisfy its schema: {error.message}",
            param=f"corrections.{where}" if where else "corrections",
        )
