"""The knowledge base the agents use: the RAG service over HTTP, as a :class:`Retriever`.

Agents never open a vector store themselves; they speak HTTP to ``inferstack rag serve``
(``/v1/rag/retrieve`` and ``/v1/rag/documents``), like every app speaks HTTP to models."""

from __future__ import annotations

from typing import Any

import httpx

from inferstack.errors import InvalidRequestError, UpstreamError
from inferstack.rag import Hit, RetrievalMode

__all__ = ["RagClient"]


class RagClient:
    """A :class:`inferstack.rag.Retriever` (and ingestion) backed by the RAG service."""

    def __init__(self, url: str, *, timeout: float = 60.0, http: httpx.AsyncClient | None = None):
        self.url = url.rstrip("/")
        self.http = http or httpx.AsyncClient(timeout=timeout)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            r = await self.http.post(f"{self.url}/v1/rag/{path}", json=body)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"the knowledge base is unreachable: {exc}") from exc
        data = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
        if 400 <= r.status_code < 500:
            err = data.get("error") or {}
            raise InvalidRequestError(
                err.get("message", f"the knowledge base refused the request ({r.status_code})"),
                param=err.get("param"),
            )
        if r.status_code != 200:
            raise UpstreamError(f"the knowledge base answered {r.status_code}")
        return data

    async def retrieve(
        self,
        query: str,
        *,
        k: int = 5,
        mode: RetrievalMode = "hybrid",
        filters: dict[str, Any] | None = None,
    ) -> list[Hit]:
        body: dict[str, Any] = {"query": query, "k": k, "mode": mode}
        if filters:
            body["filters"] = filters
        data = await self._post("retrieve", body)
        try:
            return [
                Hit(
                    chunk_id=d["chunk_id"],
                    doc_id=d["doc_id"],
                    source=d["source"],
                    position=d["position"],
                    start=d["start"],
                    end=d["end"],
                    text=d["text"],
                    score=d["score"],
                    metadata=d.get("metadata") or {},
                    scores=d.get("scores") or {},
                )
                for d in data.get("data", [])
            ]
        except (KeyError, TypeError) as exc:
            raise UpstreamError(f"the knowledge base sent a malformed hit: {exc}") from exc

    async def ingest(self, body: dict[str, Any]) -> dict[str, Any]:
        """Add, replace or remove documents (the RAG service's ``/v1/rag/documents`` body)."""
        return await self._post("documents", body)

    async def reachable(self) -> bool:
        try:
            r = await self.http.get(f"{self.url}/ready")
        except httpx.HTTPError:
            return False
        return r.status_code == 200
