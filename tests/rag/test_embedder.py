"""The embeddings client against an endpoint that behaves like (and misbehaves unlike) ours."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from inferstack.rag.embedder import Embedder, EmbeddingError
from rag.conftest import FakeEmbeddings


async def test_batches_keep_order(fake_embeddings: FakeEmbeddings) -> None:
    e = Embedder("http://x/v1", "fake-embed", batch_size=3, transport=fake_embeddings.transport())
    texts = [f"text {i}" for i in range(10)]
    vectors = await e.embed(texts)
    assert [len(b) for b in fake_embeddings.requests] == [3, 3, 3, 1]
    single = await e.embed(["text 7"])
    assert vectors[7] == single[0]
    await e.aclose()


async def test_concurrency_is_bounded() -> None:
    active, peak = 0, 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.01)
        active -= 1
        n = len(json.loads(request.content)["input"])
        data = [{"index": i, "embedding": [1.0, 0.0]} for i in range(n)]
        return httpx.Response(200, json={"data": data})

    e = Embedder(
        "http://x/v1", "m", batch_size=1, concurrency=2, transport=httpx.MockTransport(handler)
    )
    await e.embed([str(i) for i in range(8)])
    assert peak == 2
    await e.aclose()


async def test_failure_is_pinned_to_its_input(fake_embeddings: FakeEmbeddings) -> None:
    fake_embeddings.poison = "BAD"
    e = Embedder("http://x/v1", "fake-embed", batch_size=4, transport=fake_embeddings.transport())
    items = [(f"id{i}", "fine text" if i != 5 else "BAD text") for i in range(8)]
    vectors, failures = await e.embed_labelled(items)
    assert [f.label for f in failures] == ["id5"]
    assert "500" in failures[0].error
    assert set(vectors) == {f"id{i}" for i in range(8)} - {"id5"}
    with pytest.raises(EmbeddingError):
        await e.embed(["BAD"])
    await e.aclose()


@pytest.mark.parametrize(
    "data",
    [
        [{"index": 0, "embedding": [0.0, 0.0]}],  # a zero vector is never a usable answer
        [],  # too few
        [{"index": 0, "embedding": [1.0, 0.0]}, {"index": 1, "embedding": [1.0, 0.0]}],
        [{"index": 0, "embedding": ["a"]}],
    ],
)
async def test_malformed_answers_are_errors(data: list) -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json={"data": data}))
    e = Embedder("http://x/v1", "m", transport=transport)
    with pytest.raises(EmbeddingError):
        await e.embed(["one"])
    await e.aclose()


async def test_dimension_change_is_an_error() -> None:
    dims = iter([2, 3])

    def handler(r: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": [{"index": 0, "embedding": [1.0] * next(dims)}]})

    e = Embedder("http://x/v1", "m", transport=httpx.MockTransport(handler))
    await e.embed(["a"])
    with pytest.raises(EmbeddingError, match="3-dim"):
        await e.embed(["b"])
    await e.aclose()
