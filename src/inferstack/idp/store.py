"""The IDP tables (documents, their review history, ground truth) on SQLite or PostgreSQL.

idp may not import the gateway, so this is a small database of its own; the schema is created
on open (``create_all``: a first version, no migrations yet; new tables are added to an existing
database, columns are never changed). A document is keyed by its content hash and schema, which
makes processing idempotent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    create_engine,
    delete,
    func,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

__all__ = ["DocumentRow", "GroundTruthRow", "IdpStore", "PageRow", "ReviewRow", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class DocumentRow(Base):
    """One processed document: its fields with confidences and evidence, and its status."""

    __tablename__ = "idp_documents"
    __table_args__ = (UniqueConstraint("sha256", "schema_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str] = mapped_column(String(512))
    schema_name: Mapped[str] = mapped_column(String(128))
    schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    page_count: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)
    min_confidence: Mapped[float] = mapped_column(Float)
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    reasons: Mapped[list[str]] = mapped_column(JSON)
    model: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sha256": self.sha256,
            "filename": self.filename,
            "schema": self.schema_name,
            "pages": self.page_count,
            "status": self.status,
            "min_confidence": round(self.min_confidence, 4),
            "values": self.values,
            "fields": self.fields,
            "reasons": self.reasons,
            "model": self.model,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


class ReviewRow(Base):
    """One change to a document: who did what, when (the revision history)."""

    __tablename__ = "idp_reviews"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("idp_documents.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    reviewer: Mapped[str] = mapped_column(String(128))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(String(2000), default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "reviewer": self.reviewer,
            "changes": self.changes,
            "note": self.note,
            "at": self.at.isoformat(),
        }


class PageRow(Base):
    """One page of a document as the reader saw it: size, how it was read, its lines of words
    with their boxes and confidences (what a reviewer's screen draws the evidence on)."""

    __tablename__ = "idp_pages"
    __table_args__ = (UniqueConstraint("document_id", "number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("idp_documents.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    layout: Mapped[dict[str, Any]] = mapped_column(JSON)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.layout)


class GroundTruthRow(Base):
    """A reviewed document's values saved as the truth for its file (one per document): what
    ``inferstack idp ground-truth`` exports as a labelled folder for ``idp eval`` and
    ``idp calibrate``."""

    __tablename__ = "idp_ground_truth"
    document_id: Mapped[int] = mapped_column(ForeignKey("idp_documents.id"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str] = mapped_column(String(512))
    schema_name: Mapped[str] = mapped_column(String(128), index=True)
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    reviewer: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "sha256": self.sha256,
            "filename": self.filename,
            "schema": self.schema_name,
            "values": self.values,
            "reviewer": self.reviewer,
            "at": self.at.isoformat(),
        }


class IdpStore:
    """Sessions on the IDP tables (created on open)."""

    def __init__(self, url: str) -> None:
        # NOTE: batch evaluation processes documents on worker threads; SQLite connections
        # then move between threads (each is used by one at a time).
        args = {"check_same_thread": False} if url.startswith("sqlite") else {}
        self.engine = create_engine(url, connect_args=args)
        Base.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def find(self, sha256: str, schema_name: str) -> DocumentRow | None:
        with self.session() as s:
            return s.scalar(
                select(DocumentRow).where(
                    DocumentRow.sha256 == sha256, DocumentRow.schema_name == schema_name
                )
            )

    def get(self, document_id: int) -> DocumentRow | None:
        with self.session() as s:
            return s.get(DocumentRow, document_id)

    def pages(self, document_id: int) -> list[PageRow]:
        with self.session() as s:
            query = select(PageRow).where(PageRow.document_id == document_id)
            return list(s.scalars(query.order_by(PageRow.number)))

    @staticmethod
    def _put_pages(s: Session, document_id: int, pages: list[dict[str, Any]]) -> None:
        s.execute(delete(PageRow).where(PageRow.document_id == document_id))
        s.add_all(PageRow(document_id=document_id, number=p["number"], layout=p) for p in pages)

    def replace(
        self,
        document_id: int,
        columns: dict[str, Any],
        reviewer: str,
        pages: list[dict[str, Any]] | None = None,
    ) -> None:
        """Set a reprocessed document's columns (and pages), recording the values and status
        it had."""
        with self.session() as s:
            row = s.get(DocumentRow, document_id)
            if row is None:
                raise LookupError(document_id)
            before = {"status": row.status, "values": row.values, "model": row.model}
            for name, value in columns.items():
                setattr(row, name, value)
            row.updated_at = utcnow()
            after = {"status": row.status, "values": row.values, "model": row.model}
            if pages is not None:
                self._put_pages(s, row.id, pages)
            s.add(
                ReviewRow(
                    document_id=row.id,
                    action="reprocess",
                    reviewer=reviewer,
                    changes={"from": before, "to": after},
                    note="; ".join(row.reasons)[:2000],
                )
            )

    def ground_truth(self, schema_name: str | None = None) -> list[GroundTruthRow]:
        query = select(GroundTruthRow).order_by(GroundTruthRow.document_id)
        if schema_name is not None:
            query = query.where(GroundTruthRow.schema_name == schema_name)
        with self.session() as s:
            return list(s.scalars(query))

    def add(self, row: DocumentRow, pages: list[dict[str, Any]] | None = None) -> DocumentRow:
        """Store a processed document (with its pages' layout) and its first history entry."""
        with self.session() as s:
            s.add(row)
            s.flush()
            if pages is not None:
                self._put_pages(s, row.id, pages)
            s.add(
                ReviewRow(
                    document_id=row.id,
                    action="processed",
                    reviewer="idp",
                    changes={"status": row.status},
                    note="; ".join(row.reasons)[:2000],
                )
            )
        return row

    def status_counts(self) -> dict[str, int]:
        """How many documents are in each status (one grouped count in the database)."""
        query = select(DocumentRow.status, func.count()).group_by(DocumentRow.status)
        with self.session() as s:
            return {status: count for status, count in s.execute(query)}

    def close(self) -> None:
        self.engine.dispose()
