"""The vector-store contract, run on every backend that runs here (Milvus Lite, Milvus Lite's
server mode, pgvector); OpenSearch runs the same contract in test_opensearch.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferstack.errors import InvalidRequestError
from inferstack.rag.stores import VectorStore, open_store
from inferstack.rag.types import Chunk
from rag.conftest import DIMS, fake_vector, make_settings


def chunk(i: int, text: str, **meta: object) -> Chunk:
    return Chunk(f"c{i}", f"doc{i % 3}", f"/src/{i % 3}.md", i, 0, len(text), text, 5, dict(meta))


CORPUS = [
    chunk(0, "red apples grow on trees", lang="en", year=2020, public=True),
    chunk(1, "green pears grow on trees", lang="en", year=2021, public=False),
    chunk(2, "pommes rouges sur les arbres", lang="fr", year=2020, public=True),
    chunk(3, "submarines dive under the ocean", lang="en", year=2022, public=True),
]


@pytest.fixture
def store(tmp_path: Path, store_kind: str, store_servers: dict[str, str]):
    settings = make_settings(tmp_path, store_kind, store_servers)
    s = open_store(settings, DIMS)
    s.upsert(CORPUS, [fake_vector(c.text) for c in CORPUS])
    s.flush()
    yield s
    s.drop()
    s.close()


def test_search_finds_nearest_with_cosine_scores(store: VectorStore) -> None:
    hits = store.search(fake_vector("submarines dive under the ocean"), 2)
    assert hits[0][0] == "c3"
    assert hits[0][1] == pytest.approx(1.0, abs=1e-3)
    assert hits[0][1] >= hits[1][1]
    assert all(-1.001 <= s <= 1.001 for _, s in hits)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"lang": "fr"}, {"c2"}),
        ({"lang": "en", "year": 2020}, {"c0"}),
        ({"public": False}, {"c1"}),
        ({"doc_id": "doc0"}, {"c0", "c3"}),
        ({"source": "/src/2.md"}, {"c2"}),
        ({"lang": "de"}, set()),
    ],
)
def test_filters_match_by_equality(store: VectorStore, filters: dict, expected: set) -> None:
    hits = store.search(fake_vector("apples trees"), 10, filters)
    assert {h[0] for h in hits} == expected


def test_bad_filter_keys_are_client_errors(store: VectorStore) -> None:
    with pytest.raises(InvalidRequestError) as info:
        store.search(fake_vector("x"), 3, {'lang"] == 1 or meta["x': "y"})
    assert info.value.param == "filters"
    with pytest.raises(InvalidRequestError):
        store.search(fake_vector("x"), 3, {"lang": ["en"]})


def test_upsert_is_idempotent_and_replaces(store: VectorStore) -> None:
    assert store.count() == 4
    moved = chunk(0, "submarines dive under the ocean", lang="en", year=2020, public=True)
    store.upsert([moved], [fake_vector(moved.text)])
    store.flush()
    assert store.count() == 4
    assert store.ids() == {"c0", "c1", "c2", "c3"}
    top = {h[0] for h in store.search(fake_vector("submarines dive under the ocean"), 2)}
    assert top == {"c0", "c3"}


def test_delete_and_counting(store: VectorStore) -> None:
    before = store.ops.writes
    store.delete(["c1", "missing-id"])
    store.flush()
    assert store.ids() == {"c0", "c2", "c3"}
    assert store.count() == 3
    assert store.ops.writes == before + 2
    assert "c1" not in {h[0] for h in store.search(fake_vector("green pears"), 4)}


def test_reopening_keeps_the_data(
    tmp_path: Path, store_kind: str, store_servers: dict[str, str]
) -> None:
    settings = make_settings(tmp_path, store_kind, store_servers)
    first = open_store(settings, DIMS)
    first.upsert(CORPUS[:2], [fake_vector(c.text) for c in CORPUS[:2]])
    first.flush()
    first.close()
    again = open_store(settings, DIMS)
    try:
        assert again.ids() == {"c0", "c1"}
        assert again.ops.writes == 0
    finally:
        again.drop()
        again.close()


@pytest.mark.parametrize(
    ("uri", "relaxed"),
    [
        ("/tmp/kb/milvus.db", True),  # Milvus Lite in-process
        ("http://127.0.0.1:19530", True),  # `milvus-lite server` on this machine
        ("http://localhost:19530", True),
        ("http://milvus.rag.svc:19530", False),  # a Milvus server keeps pymilvus' pings
        ("https://in01.example.zillizcloud.com", False),
    ],
)
def test_milvus_lite_clients_ping_within_its_servers_policy(uri: str, relaxed: bool) -> None:
    from inferstack.rag.stores.milvus import _client_options

    options = _client_options(uri)
    if not relaxed:
        assert options == {}
        return
    grpc = options["grpc_options"]
    # gRPC's default server policy: no ping more often than every 5 minutes without data.
    assert grpc["grpc.keepalive_time_ms"] > 300_000
    assert grpc["grpc.keepalive_permit_without_calls"] == 0
