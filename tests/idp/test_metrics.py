"""The IDP service's /metrics: the review queue counted in the database at scrape time (right
after a restart and with another writer), reviewer decisions, documents by decision."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from idp.test_extract import ANSWER, _server
from idp.test_review import _doc
from inferstack.errors import UpstreamError
from inferstack.idp.app import build_app
from inferstack.idp.metrics import IdpMetrics
from inferstack.idp.pipeline import Processor
from inferstack.idp.schemas import BUILTIN_SCHEMAS
from inferstack.idp.settings import IdpSettings
from inferstack.idp.store import IdpStore
from support.idp_docs import INVOICE_LINES, write_text_pdf
from support.prom import sample

QUEUE = "inferstack_idp_review_queue_documents"


async def _metrics(settings: IdpSettings, *then: tuple[str, str, dict]) -> str:
    """Start the app on ``settings``' database, send ``then`` requests, return /metrics."""
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://idp") as c:
            for method, url, body in then:
                r = await c.request(method, url, json=body)
                assert r.status_code == 200, r.text
            r = await c.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return r.text


async def test_the_queue_is_read_from_the_database(tmp_path: Path) -> None:
    settings = IdpSettings(state_dir=tmp_path)
    store = IdpStore(settings.resolved_database_url())
    for sha, status in (("a", "pending"), ("b", "pending"), ("c", "auto_approved")):
        store.add(_doc(sha, status, 0.5))
    m = await _metrics(settings)
    assert sample(m, QUEUE, status="pending") == 2
    assert sample(m, QUEUE, status="auto_approved") == 1
    assert sample(m, QUEUE, status="approved") == 0 and sample(m, QUEUE, status="rejected") == 0

    approve = ("POST", "/v1/idp/documents/1/approve", {"reviewer": "ana"})
    reject = ("POST", "/v1/idp/documents/2/reject", {"reviewer": "ana", "note": "blurred"})
    m = await _metrics(settings, approve, reject)
    assert sample(m, QUEUE, status="pending") == 0
    assert sample(m, QUEUE, status="approved") == 1 and sample(m, QUEUE, status="rejected") == 1
    assert sample(m, "inferstack_idp_reviews_total", action="approve") == 1
    assert sample(m, "inferstack_idp_reviews_total", action="reject") == 1

    # a restarted service (a new app on the same database), after another writer added one
    store.add(_doc("d", "pending", 0.3))
    store.close()
    m = await _metrics(settings)
    assert sample(m, QUEUE, status="pending") == 1 and sample(m, QUEUE, status="approved") == 1
    assert sample(m, "inferstack_idp_reviews_total") is None  # counters start again


def test_documents_are_counted_by_decision(tmp_path: Path) -> None:
    pdf = tmp_path / "invoice.pdf"
    write_text_pdf(pdf, INVOICE_LINES)
    settings = IdpSettings(state_dir=tmp_path, dpi=72)
    store = IdpStore(settings.resolved_database_url())
    metrics = IdpMetrics(store)
    # a vendor the page does not show: no evidence, so the document goes to review
    _, client = _server(logprobs=False, answer={**ANSWER, "vendor_name": "Nobody Else"})
    processor = Processor(settings, client, store, metrics=metrics)
    doc = processor.process(pdf, "invoice", BUILTIN_SCHEMAS["invoice"])
    assert doc["status"] == "pending"
    processor.process(pdf, "invoice", BUILTIN_SCHEMAS["invoice"])  # known: not processed again
    _, bad = _server(logprobs=False, answer={"invoice_number": 7})
    write_text_pdf(tmp_path / "two.pdf", [*INVOICE_LINES, "page two"])
    with pytest.raises(UpstreamError):
        Processor(settings, bad, store, metrics=metrics).process(
            tmp_path / "two.pdf", "invoice", BUILTIN_SCHEMAS["invoice"]
        )
    m = metrics.render().decode()
    store.close()
    docs = "inferstack_idp_documents_processed_total"
    assert sample(m, docs, schema="invoice", decision="pending") == 1
    assert sample(m, docs, schema="invoice", decision="failed") == 1
    assert sample(m, docs) == 2
    assert sample(m, "inferstack_idp_processing_duration_seconds_count", schema="invoice") == 1
    assert sample(m, QUEUE, status="pending") == 1
