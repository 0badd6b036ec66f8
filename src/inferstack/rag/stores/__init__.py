"""Vector stores behind one small interface (:class:`VectorStore`).

``open_store(settings, dimensions)`` picks the backend from :data:`STORES`: Milvus Lite (one
file, in-process), a Milvus server (the same client over gRPC), PostgreSQL + pgvector, or
OpenSearch (k-NN index). Each stores id, vector, document id, source and metadata, and filters
on metadata by equality.
"""

from inferstack.rag.stores.base import StoreOps, VectorStore, validate_filters
from inferstack.rag.stores.factory import STORES, open_store

__all__ = ["STORES", "StoreOps", "VectorStore", "open_store", "validate_filters"]
