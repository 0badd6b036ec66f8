"""The review queue API on a real SQLite file: list (lowest confidence first), get with history,
approve with corrections, reject, and the client mistakes as OpenAI-style 4xx bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from inferstack.idp.app import build_app
from inferstack.idp.schemas import BUILTIN_SCHEMAS
from inferstack.idp.settings import IdpSettings
from inferstack.idp.store import DocumentRow, IdpStore

SCHEMA = BUILTIN_SCHEMAS["receipt"]
VALUES = {
    "merchant_name": "Corner Shop",
    "receipt_date": "2024-01-02",
    "total_amount": "9.99",
    "payment_method": "card",
}


def _doc(sha: str, status: str, confidence: float) -> DocumentRow:
    fields = {k: {"value": v, "confidence": confidence} for k, v in VALUES.items()}
    return DocumentRow(
        sha256=sha,
        filename=f"{sha}.png",
        schema_name="receipt",
        schema=SCHEMA,
        page_count=1,
        status=status,
        min_confidence=confidence,
        values=dict(VALUES),
        fields=fields,
        reasons=[],
        model="m",
    )


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = IdpSettings(state_dir=tmp_path)
    store = IdpStore(settings.resolved_database_url())
    for sha, status, conf in (
        ("a", "pending", 0.6),
        ("b", "pending", 0.2),
        ("c", "auto_approved", 0.95),
    ):
        store.add(_doc(sha, status, conf))
    store.close()
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://idp") as c:
            yield c


async def test_pending_documents_are_listed_lowest_confidence_first(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/v1/idp/documents", params={"status": "pending"})
    assert r.status_code == 200
    assert [d["sha256"] for d in r.json()["data"]] == ["b", "a"]
    assert len((await client.get("/v1/idp/documents")).json()["data"]) == 3
    bad = await client.get("/v1/idp/documents", params={"status": "lost"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "status"


async def test_approve_with_corrections_records_who_what_when(client: httpx.AsyncClient) -> None:
    [first] = (
        await client.get("/v1/idp/documents", params={"status": "pending", "limit": 1})
    ).json()["data"]
    r = await client.post(
        f"/v1/idp/documents/{first['id']}/approve",
        json={"reviewer": "ana", "corrections": {"total_amount": "10.99"}},
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["status"] == "approved" and doc["values"]["total_amount"] == "10.99"
    assert doc["fields"]["total_amount"]["corrected"] is True
    assert [h["action"] for h in doc["history"]] == ["processed", "approve"]
    change = doc["history"][-1]
    assert change["reviewer"] == "ana" and change["at"]
    assert change["changes"]["corrections"]["total_amount"] == {"from": "9.99", "to": "10.99"}
    again = await client.post(f"/v1/idp/documents/{first['id']}/approve", json={"reviewer": "bo"})
    assert again.status_code == 409 and again.json()["error"]["param"] == "document_id"
    # the stored document survived the request: read it back
    assert (await client.get(f"/v1/idp/documents/{first['id']}")).json()["status"] == "approved"


async def test_reject_and_client_mistakes(client: httpx.AsyncClient) -> None:
    pending = (await client.get("/v1/idp/documents", params={"status": "pending"})).json()["data"]
    doc_id = pending[-1]["id"]
    bad_field = await client.post(
        f"/v1/idp/documents/{doc_id}/approve", json={"reviewer": "ana", "corrections": {"tip": "1"}}
    )
    assert bad_field.status_code == 400
    assert bad_field.json()["error"]["param"] == "corrections.tip"
    bad_value = await client.post(
        f"/v1/idp/documents/{doc_id}/approve",
        json={"reviewer": "ana", "corrections": {"receipt_date": "2 Jan"}},
    )
    assert bad_value.status_code == 400
    assert bad_value.json()["error"]["param"] == "corrections.receipt_date"
    no_note = await client.post(f"/v1/idp/documents/{doc_id}/reject", json={"reviewer": "ana"})
    assert no_note.status_code == 400 and no_note.json()["error"]["param"] == "note"
    r = await client.post(
        f"/v1/idp/documents/{doc_id}/reject", json={"reviewer": "ana", "note": "illegible"}
    )
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert r.json()["history"][-1]["note"] == "illegible"
    missing = await client.get("/v1/idp/documents/999")
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "document_id"


async def test_upload_mistakes_are_4xx_naming_the_param(client: httpx.AsyncClient) -> None:
    url = "/v1/idp/documents"
    cases = [
        ({"filename": "a.png", "schema": "/etc/passwd"}, b"x", 400, "schema"),
        ({"filename": "a.exe"}, b"x", 400, "filename"),
        ({"filename": "a.png"}, b"", 400, "body"),
        ({}, b"x", 400, "filename"),
    ]
    for params, body, status, param in cases:
        r = await client.post(url, params=params, content=body)
        assert r.status_code == status, r.text
        assert r.json()["error"]["param"] == param


async def test_upload_of_a_known_file_returns_the_stored_document(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    import hashlib

    data = b"\x89PNG pretend bytes: the hash is what matters"
    store = IdpStore(IdpSettings(state_dir=tmp_path).resolved_database_url())
    known = store.add(_doc(hashlib.sha256(data).hexdigest(), "pending", 0.5))
    store.close()
    r = await client.post(
        "/v1/idp/documents", params={"filename": "again.png", "schema": "receipt"}, content=data
    )
    assert r.status_code == 200, r.text
    assert r.json()["id"] == known.id and r.json()["reused"] is True
    [saved] = (tmp_path / "files").iterdir()
    assert saved.read_bytes() == data and saved.stat().st_mode & 0o777 == 0o600


async def _post(
    client: httpx.AsyncClient, doc_id: int, action: str, **body: object
) -> httpx.Response:
    return await client.post(f"/v1/idp/documents/{doc_id}/{action}", json=body)


async def _lowest_pending(client: httpx.AsyncClient) -> int:
    r = await client.get("/v1/idp/documents", params={"status": "pending", "limit": 1})
    doc_id: int = r.json()["data"][0]["id"]
    return doc_id


async def test_claim_correct_release_and_approve_by_the_claimer_only(
    client: httpx.AsyncClient,
) -> None:
    doc_id = await _lowest_pending(client)
    claimed = await _post(client, doc_id, "claim", reviewer="ana")
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["status"] == "in_progress" and claimed.json()["claimed_by"] == "ana"
    assert (await _post(client, doc_id, "claim", reviewer="ana")).status_code == 200  # again
    # while ana holds it, nobody else changes it
    for action, body in (
        ("claim", {}),
        ("release", {}),
        ("approve", {}),
        ("skip", {}),
        ("correct", {"corrections": {"total_amount": "1.00"}}),
        ("reject", {"note": "no"}),
    ):
        r = await _post(client, doc_id, action, reviewer="bo", **body)
        assert r.status_code == 409, (action, r.text)
        assert r.json()["error"]["param"] == "document_id"
    listed = (await client.get("/v1/idp/documents", params={"status": "in_progress"})).json()
    assert [(d["id"], d["claimed_by"]) for d in listed["data"]] == [(doc_id, "ana")]
    corrected = await _post(
        client, doc_id, "correct", reviewer="ana", corrections={"total_amount": "10.99"}
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["status"] == "in_progress"
    assert corrected.json()["values"]["total_amount"] == "10.99"
    empty = await _post(client, doc_id, "correct", reviewer="ana", corrections={})
    assert empty.status_code == 400 and empty.json()["error"]["param"] == "corrections"
    released = await _post(client, doc_id, "release", reviewer="ana")
    assert released.json()["status"] == "pending" and released.json()["claimed_by"] is None
    assert (await _post(client, doc_id, "claim", reviewer="bo")).json()["claimed_by"] == "bo"
    done = (await _post(client, doc_id, "approve", reviewer="bo")).json()
    assert done["status"] == "approved" and done["values"]["total_amount"] == "10.99"
    history = [(h["action"], h["reviewer"]) for h in done["history"]]
    assert history == [
        ("processed", "idp"),
        ("claim", "ana"),
        ("correct", "ana"),
        ("release", "ana"),
        ("claim", "bo"),
        ("approve", "bo"),
    ]
    assert done["history"][2]["changes"]["corrections"]["total_amount"] == {
        "from": "9.99",
        "to": "10.99",
    }
    assert (await _post(client, doc_id, "claim", reviewer="cy")).status_code == 409


async def test_a_skipped_document_can_be_claimed_again(client: httpx.AsyncClient) -> None:
    doc_id = await _lowest_pending(client)
    skipped = await _post(client, doc_id, "skip", reviewer="ana", note="need the original")
    assert skipped.json()["status"] == "skipped"
    assert skipped.json()["history"][-1]["note"] == "need the original"
    listed = (await client.get("/v1/idp/documents", params={"status": "skipped"})).json()["data"]
    assert [d["id"] for d in listed] == [doc_id]
    assert (await _post(client, doc_id, "approve", reviewer="ana")).status_code == 409
    again = await _post(client, doc_id, "claim", reviewer="bo")
    assert again.json()["status"] == "in_progress" and again.json()["claimed_by"] == "bo"


async def test_only_an_approved_document_is_saved_as_ground_truth(
    client: httpx.AsyncClient,
) -> None:
    doc_id = await _lowest_pending(client)
    early = await _post(client, doc_id, "ground-truth", reviewer="ana")
    assert early.status_code == 409 and early.json()["error"]["param"] == "document_id"
    await _post(client, doc_id, "approve", reviewer="ana", corrections={"total_amount": "3.50"})
    saved = await _post(client, doc_id, "ground-truth", reviewer="ana")
    assert saved.status_code == 200, saved.text
    truth = saved.json()["ground_truth"]
    assert truth["values"]["total_amount"] == "3.50" and truth["reviewer"] == "ana"
    assert saved.json()["history"][-1]["action"] == "ground_truth"
    listed = (await client.get("/v1/idp/ground-truth", params={"schema": "receipt"})).json()
    assert [t["document_id"] for t in listed["data"]] == [doc_id]
    assert (await client.get("/v1/idp/ground-truth", params={"schema": "invoice"})).json()[
        "data"
    ] == []
    pages = await client.get(f"/v1/idp/documents/{doc_id}/pages")
    assert pages.status_code == 200 and pages.json()["data"] == []  # stored without pages
    nowhere = await client.get("/v1/idp/documents/999/pages")
    assert nowhere.status_code == 404 and nowhere.json()["error"]["param"] == "document_id"
    missing = await _post(client, 999, "reprocess", reviewer="ana")
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "document_id"
    # these documents were added straight to the database: no kept file to reprocess
    unkept = await _post(client, doc_id, "reprocess", reviewer="ana")
    assert unkept.status_code == 400 and unkept.json()["error"]["param"] == "document_id"
