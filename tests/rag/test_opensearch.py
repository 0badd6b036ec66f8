"""OpenSearch specifics through the real opensearch-py client: the k-NN mapping and query in
the documented format, bulk errors surfacing, and a stand-in that refuses what OpenSearch
refuses (the shared store contract runs on it in test_stores.py and test_ingest.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import RequestError
from opensearchpy.helpers import BulkIndexError

from inferstack.rag.stores.opensearch import OpenSearchStore, index_body, knn_query
from inferstack.rag.types import Chunk
from support.opensearch_fake import FakeOpenSearch


@pytest.fixture
def fake() -> Iterator[FakeOpenSearch]:
    server = FakeOpenSearch()
    yield server
    server.close()


def test_index_is_created_with_a_knn_vector_mapping(fake: FakeOpenSearch) -> None:
    OpenSearchStore(fake.url, "Docs_KB", 8)
    _method, path, raw = next(r for r in fake.requests if r[0] == "PUT")
    assert path == "docs_kb"  # index names are lowercase
    body = json.loads(raw)
    assert body["settings"]["index"]["knn"] is True
    vector = body["mappings"]["properties"]["vector"]
    assert vector == {
        "type": "knn_vector",
        "dimension": 8,
        "method": {"name": "hnsw", "space_type": "cosinesimil", "engine": "lucene"},
    }
    assert body["mappings"]["properties"]["doc_id"] == {"type": "keyword"}
    OpenSearchStore(fake.url, "Docs_KB", 8)  # reopening does not create it again
    assert sum(1 for r in fake.requests if r[0] == "PUT") == 1


def test_knn_query_puts_filters_inside_the_knn_clause() -> None:
    q = knn_query([0.1, 0.2], 3, {"lang": "en", "doc_id": "d1"})
    assert q["size"] == 3
    knn = q["query"]["knn"]["vector"]
    assert knn["k"] == 3 and knn["vector"] == [0.1, 0.2]
    assert knn["filter"] == {
        "bool": {"filter": [{"term": {"metadata.lang": "en"}}, {"term": {"doc_id": "d1"}}]}
    }
    assert "filter" not in knn_query([1.0], 1, {})["query"]["knn"]["vector"]


def test_the_stand_in_refuses_what_opensearch_refuses(fake: FakeOpenSearch) -> None:
    client = OpenSearch(hosts=[fake.url])
    bad = index_body(4)
    bad["settings"]["index"]["knn"] = False
    with pytest.raises(RequestError, match="knn"):
        client.indices.create(index="x", body=bad)
    bad = index_body(4)
    bad["mappings"]["properties"]["vector"]["dimension"] = "four"
    with pytest.raises(RequestError, match="dimension"):
        client.indices.create(index="y", body=bad)


def test_bulk_item_errors_are_raised(fake: FakeOpenSearch) -> None:
    store = OpenSearchStore(fake.url, "kb", 4)
    chunk = Chunk("c1", "d", "s", 0, 0, 1, "x", 1, {})
    with pytest.raises(BulkIndexError):
        store.upsert([chunk], [[1.0, 0.0]])  # 2 dims into a 4-dim index
    store.upsert([chunk], [[1.0, 0.0, 0.0, 0.0]])
    store.flush()
    assert store.search([1.0, 0.0, 0.0, 0.0], 1) == [("c1", pytest.approx(1.0))]
    store.delete(["c1", "never-there"])  # deleting a missing id is not an error
    store.flush()
    assert store.count() == 0
