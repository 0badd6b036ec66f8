"""The IDP tables on a real PostgreSQL (a throwaway cluster, psycopg): a document with its
pages, the review queue's claim → correct → approve → ground truth, listing by confidence."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from inferstack.idp.review import ReviewQueue
from inferstack.idp.schemas import BUILTIN_SCHEMAS
from inferstack.idp.store import DocumentRow, IdpStore
from support.services import postgres_cluster

VALUES = {
    "merchant_name": "Corner Shop",
    "receipt_date": "2024-01-02",
    "total_amount": "9.99",
    "payment_method": "card",
}


@pytest.fixture(scope="module")
def store() -> Iterator[IdpStore]:
    with postgres_cluster() as url:
        store = IdpStore(url.replace("postgresql+asyncpg://", "postgresql+psycopg://"))
        yield store
        store.close()


def _doc(sha: str, confidence: float) -> DocumentRow:
    return DocumentRow(
        sha256=sha,
        filename=f"{sha}.png",
        schema_name="receipt",
        schema=BUILTIN_SCHEMAS["receipt"],
        page_count=1,
        status="pending",
        min_confidence=confidence,
        values=dict(VALUES),
        fields={k: {"value": v, "confidence": confidence} for k, v in VALUES.items()},
        reasons=[],
        model="m",
    )


def test_the_review_round_trip_on_postgresql(store: IdpStore) -> None:
    page = {"number": 1, "width": 900, "height": 380, "source": "ocr", "rotation": 0, "lines": []}
    low = store.add(_doc("a" * 64, 0.3), [page])
    store.add(_doc("b" * 64, 0.7))
    queue = ReviewQueue(store)
    assert [d["id"] for d in queue.list("pending", 10)] == [low.id, low.id + 1]
    assert queue.pages(low.id) == [page]
    queue.claim(low.id, "ana")
    queue.correct(low.id, "ana", {"total_amount": "19.99"})
    done = queue.approve(low.id, "ana", {})
    assert done["status"] == "approved" and done["values"]["total_amount"] == "19.99"
    assert [h["action"] for h in done["history"]] == ["processed", "claim", "correct", "approve"]
    saved = queue.save_ground_truth(low.id, "ana")
    assert saved["ground_truth"]["values"]["total_amount"] == "19.99"
    assert [t["document_id"] for t in queue.ground_truth("receipt")] == [low.id]
    assert store.find("a" * 64, "receipt") is not None  # idempotency key
