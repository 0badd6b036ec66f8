"""RAG fixtures: a deterministic embedding server and an OpenAI-like chat endpoint (httpx
transports, unit tests only), and the real store backends that run here."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from inferstack.rag.embedder import Embedder
from inferstack.rag.retrieve import KnowledgeBase
from inferstack.rag.settings import RagSettings
from support.opensearch_fake import FakeOpenSearch
from support.rag_backends import RUNNABLE_STORES, milvus_server, pgvector_server

DIMS = 64
_WORD = re.compile(r"[a-z0-9]+")
_names = itertools.count()


def fake_vector(text: str) -> list[float]:
    """A bag-of-hashed-words vector: texts sharing words are close, as with a real model."""
    v = [0.0] * DIMS
    for word in _WORD.findall(text.lower()):
        h = int(hashlib.sha256(word.encode()).hexdigest(), 16)
        v[h % DIMS] += 1.0 if (h >> 8) % 2 else -1.0
    norm = math.sqrt(sum(x * x for x in v)) or 1.0
    if norm == 1.0 and not any(v):
        v[0] = 1.0
    return [x / norm for x in v]


@dataclass
class FakeEmbeddings:
    """An OpenAI ``/v1/embeddings`` endpoint: validates like the real server (model name,
    256-wordpiece limit judged by characters here), and fails on inputs holding ``poison``."""

    poison: str | None = None
    requests: list[list[str]] = field(default_factory=list)
    max_chars: int = 4000

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        self.requests.append(texts)
        if body.get("model") != "fake-embed":
            return _error(404, "model not found", "model")
        for i, t in enumerate(texts):
            if len(t) > self.max_chars:
                return _error(400, f"input[{i}] too long", "input")
            if self.poison and self.poison in t:
                return _error(500, "the model crashed on this input", None)
        data = [
            {"object": "embedding", "index": i, "embedding": fake_vector(t)}
            for i, t in enumerate(texts)
        ]
        return httpx.Response(200, json={"object": "list", "data": data, "model": "fake-embed"})

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)


ANSWER = "The Velmora bridges span the river [1]. Unrelated claim [9]."


def chat_handler(seen: list[dict]) -> httpx.MockTransport:
    """A chat endpoint that answers ``ANSWER`` like an OpenAI server (JSON, or SSE in two
    pieces when ``stream`` is set) and records each request body in ``seen``."""

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        if not body.get("stream"):
            return httpx.Response(
                200,
                json={
                    "id": "c1",
                    "object": "chat.completion",
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": ANSWER},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                },
            )
        events = []
        for piece in (ANSWER[:20], ANSWER[20:]):
            chunk = {
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {"content": piece}}],
            }
            events.append(f"data: {json.dumps(chunk)}\n\n")
        events.append("data: [DONE]\n\n")
        return httpx.Response(
            200, text="".join(events), headers={"content-type": "text/event-stream"}
        )

    return httpx.MockTransport(handle)


def _error(status: int, message: str, param: str | None) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"message": message, "type": "x", "param": param, "code": None}}
    )


@pytest.fixture
def fake_embeddings() -> FakeEmbeddings:
    return FakeEmbeddings()


@pytest.fixture(scope="session")
def store_servers() -> Iterator[dict[str, str]]:
    opensearch = FakeOpenSearch()
    with milvus_server() as milvus, pgvector_server() as pg:
        yield {"milvus": milvus, "pgvector": pg, "opensearch": opensearch.url}
    opensearch.close()


@pytest.fixture(params=[*RUNNABLE_STORES, "opensearch"])
def store_kind(request: pytest.FixtureRequest) -> str:
    """Every store: the three that run here, and OpenSearch through its real client against
    the documented REST API (support/opensearch_fake.py)."""
    return str(request.param)


def make_settings(tmp_path: Path, kind: str, servers: dict[str, str], **kw: Any) -> RagSettings:
    """Settings for a fresh collection on ``kind`` (a unique name per test on shared servers)."""
    overrides: dict[str, Any] = {"store": kind, "state_dir": tmp_path / "kb"}
    if kind != "milvus-lite":
        overrides["store_uri"] = servers[kind]
    overrides["collection"] = f"t{next(_names)}_{abs(hash(str(tmp_path))) % 10**8}"
    overrides["embedding_model"] = "fake-embed"
    return RagSettings(**{**overrides, **kw})


def make_kb(settings: RagSettings, fake: FakeEmbeddings) -> KnowledgeBase:
    embedder = Embedder(
        settings.embedding_base_url,
        settings.embedding_model,
        batch_size=4,
        transport=fake.transport(),
    )
    return KnowledgeBase(settings, embedder)
