"""The review queue: list documents (lowest confidence first); claim one (pending → in
progress) and release it; correct fields (validated against its schema); then approve or reject
it (completed) or skip it (skipped: it can be claimed again later). A claimed document is
changed only by whoever claimed it. An approved document can be saved as ground truth for its
file. Every change is recorded with who, what and when (the revision history)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from inferstack.errors import InvalidRequestError, NotFoundError
from inferstack.idp.decide import AUTO_APPROVED, PENDING
from inferstack.idp.store import DocumentRow, GroundTruthRow, IdpStore, ReviewRow, utcnow

if TYPE_CHECKING:
    from inferstack.idp.metrics import IdpMetrics

__all__ = [
    "APPROVED",
    "IN_PROGRESS",
    "REJECTED",
    "SKIPPED",
    "STATUSES",
    "ConflictError",
    "ReviewQueue",
]

IN_PROGRESS = "in_progress"
APPROVED = "approved"
REJECTED = "rejected"
SKIPPED = "skipped"
STATUSES = (PENDING, IN_PROGRESS, AUTO_APPROVED, APPROVED, REJECTED, SKIPPED)
# Where a reviewer may claim a document from.
CLAIMABLE = (PENDING, SKIPPED)


class ConflictError(InvalidRequestError):
    """The document is not in a state that allows the action (e.g. approving it twice)."""

    status = 409
    default_code = "conflict"


class ReviewQueue:
    """Review operations on an :class:`IdpStore`."""

    def __init__(self, store: IdpStore, metrics: IdpMetrics | None = None) -> None:
        self.store = store
        self.metrics = metrics

    def pages(self, document_id: int) -> list[dict[str, Any]]:
        """The document's pages (lines of words with boxes), in order."""
        self.get(document_id)  # 404 for a document that does not exist
        return [p.to_dict() for p in self.store.pages(document_id)]

    def ground_truth(self, schema_name: str | None) -> list[dict[str, Any]]:
        return [row.to_dict() for row in self.store.ground_truth(schema_name)]

    def list(self, status: str | None, limit: int) -> list[dict[str, Any]]:
        if status is not None and status not in STATUSES:
            raise InvalidRequestError(
                f"unknown status {status!r}: one of {', '.join(STATUSES)}", param="status"
            )
        query = select(DocumentRow).order_by(DocumentRow.min_confidence, DocumentRow.id)
        if status is not None:
            query = query.where(DocumentRow.status == status)
        with self.store.session() as s:
            return [self._dict(s, row) for row in s.scalars(query.limit(limit))]

    def get(self, document_id: int) -> dict[str, Any]:
        with self.store.session() as s:
            row = self._row(s, document_id)
            history = s.scalars(
                select(ReviewRow).where(ReviewRow.document_id == row.id).order_by(ReviewRow.id)
            )
            truth = s.get(GroundTruthRow, row.id)
            return {
                **self._dict(s, row),
                "history": [h.to_dict() for h in history],
                "ground_truth": None if truth is None else truth.to_dict(),
            }

    def claim(self, document_id: int, reviewer: str) -> dict[str, Any]:
        with self.store.session() as s:
            row = self._row(s, document_id)
            holder = _claimer(s, row)
            if holder == reviewer:
                return self._dict(s, row)  # claiming twice is harmless
            if row.status not in CLAIMABLE:
                held = f" by {holder}" if holder else ""
                raise ConflictError(
                    f"document {document_id} is {row.status}{held}; only "
                    f"{' or '.join(CLAIMABLE)} documents can be claimed",
                    param="document_id",
                )
            self._record(s, row, IN_PROGRESS, "claim", reviewer, {"status": IN_PROGRESS}, "")
        return self.get(document_id)

    def release(self, document_id: int, reviewer: str) -> dict[str, Any]:
        with self.store.session() as s:
            row = self._row(s, document_id)
            if row.status != IN_PROGRESS or _claimer(s, row) != reviewer:
                raise ConflictError(
                    f"document {document_id} is not claimed by {reviewer}", param="document_id"
                )
            self._record(s, row, PENDING, "release", reviewer, {"status": PENDING}, "")
        return self.get(document_id)

    def correct(
        self, document_id: int, reviewer: str, corrections: dict[str, Any], note: str = ""
    ) -> dict[str, Any]:
        if not corrections:
            raise InvalidRequestError("no corrections given", param="corrections")
        with self.store.session() as s:
            row = self._open(s, document_id, reviewer)
            changes = _apply(row, corrections)
            self._record(s, row, row.status, "correct", reviewer, changes, note)
        return self.get(document_id)

    def approve(
        self, document_id: int, reviewer: str, corrections: dict[str, Any], note: str = ""
    ) -> dict[str, Any]:
        with self.store.session() as s:
            row = self._open(s, document_id, reviewer)
            changes: dict[str, Any] = {"status": APPROVED}
            if corrections:
                changes.update(_apply(row, corrections))
            self._record(s, row, APPROVED, "approve", reviewer, changes, note)
        self._count("approve")
        return self.get(document_id)

    def reject(self, document_id: int, reviewer: str, note: str) -> dict[str, Any]:
        with self.store.session() as s:
            row = self._open(s, document_id, reviewer)
            self._record(s, row, REJECTED, "reject", reviewer, {"status": REJECTED}, note)
        self._count("reject")
        return self.get(document_id)

    def _count(self, action: str) -> None:
        if self.metrics is not None:
            self.metrics.reviews.labels(action).inc()

    def skip(self, document_id: int, reviewer: str, note: str = "") -> dict[str, Any]:
        with self.store.session() as s:
            row = self._open(s, document_id, reviewer)
            self._record(s, row, SKIPPED, "skip", reviewer, {"status": SKIPPED}, note)
        return self.get(document_id)

    def save_ground_truth(self, document_id: int, reviewer: str) -> dict[str, Any]:
        """Keep an approved document's values as the truth for its file (replacing any)."""
        with self.store.session() as s:
            row = self._row(s, document_id)
            if row.status != APPROVED:
                raise ConflictError(
                    f"document {document_id} is {row.status}: only a document a reviewer "
                    "approved is ground truth",
                    param="document_id",
                )
            truth = s.get(GroundTruthRow, row.id) or GroundTruthRow(document_id=row.id)
            truth.sha256, truth.filename, truth.schema_name = (
                row.sha256,
                row.filename,
                row.schema_name,
            )
            truth.values, truth.reviewer, truth.at = dict(row.values), reviewer, utcnow()
            s.add(truth)
            changes = {"ground_truth": dict(row.values)}
            self._record(s, row, row.status, "ground_truth", reviewer, changes, "")
        return self.get(document_id)

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
        s.flush()

    @staticmethod
    def _dict(s: Any, row: DocumentRow) -> dict[str, Any]:
        return {**row.to_dict(), "claimed_by": _claimer(s, row)}

    @staticmethod
    def _row(s: Any, document_id: int) -> DocumentRow:
        row = s.get(DocumentRow, document_id)
        if row is None:
            raise NotFoundError(f"no document {document_id}", param="document_id")
        return row

    def _open(self, s: Any, document_id: int, reviewer: str) -> DocumentRow:
        """A document ``reviewer`` may change: pending, or in progress claimed by them."""
        row = self._row(s, document_id)
        if row.status == IN_PROGRESS:
            holder = _claimer(s, row)
            if holder != reviewer:
                raise ConflictError(
                    f"document {document_id} is claimed by {holder}", param="document_id"
                )
        elif row.status != PENDING:
            raise ConflictError(
                f"document {document_id} is {row.status}, not pending review", param="document_id"
            )
        return row


def _claimer(s: Any, row: DocumentRow) -> str | None:
    """Who holds an in-progress document: the reviewer of its latest claim."""
    if row.status != IN_PROGRESS:
        return None
    reviewer: str | None = s.scalar(
        select(ReviewRow.reviewer)
        .where(ReviewRow.document_id == row.id, ReviewRow.action == "claim")
        .order_by(ReviewRow.id.desc())
        .limit(1)
    )
    return reviewer


def _apply(row: DocumentRow, corrections: dict[str, Any]) -> dict[str, Any]:
    """Set corrected values on ``row`` (validated) and return the change record."""
    values = {**row.values, **corrections}
    _check(values, corrections, row.schema)
    fields = dict(row.fields)
    for k, v in corrections.items():
        fields[k] = {**fields.get(k, {}), "value": v, "corrected": True}
    changes = {
        "corrections": {k: {"from": row.values.get(k), "to": v} for k, v in corrections.items()}
    }
    row.fields = fields
    row.values = values
    return changes


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
