"""Retrieval-augmented generation: ingest documents, retrieve chunks, answer with citations.

The pipeline (each step one module)::

    sources/  (md, txt, csv, json/jsonl, pdf, html readers → Document)
      → chunking   (token-aware, sized to the embedding model's own tokenizer)
      → docstore   (SQLite: document hashes, chunk ids and text, pending/committed states)
      → embedder   (OpenAI /v1/embeddings over HTTP, batched, bounded concurrency)
      → stores/    (Milvus Lite | Milvus server | pgvector | OpenSearch behind VectorStore)
      → retrieve   (vector, BM25, hybrid fusion; the Retriever interface)
      → answer     (grounded prompt, chat model over /v1/chat/completions, numbered citations)

RAG speaks only HTTP to the gateway or a model server; it never imports engines, models or
serving. Other packages (agents' knowledge MCP server) use :class:`Retriever` and :class:`Hit`.
"""

from inferstack.rag.retriever import RetrievalMode, Retriever
from inferstack.rag.types import Chunk, Document, Hit

__all__ = ["Chunk", "Document", "Hit", "RetrievalMode", "Retriever"]
