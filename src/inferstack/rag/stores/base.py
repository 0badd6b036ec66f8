"""The vector store interface, with operation counting shared by every backend."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from inferstack.errors import InvalidRequestError
from inferstack.rag.types import Chunk, Metadata

__all__ = ["BUILTIN_FILTER_KEYS", "StoreOps", "VectorStore", "validate_filters"]

BUILTIN_FILTER_KEYS = ("doc_id", "source")
"""Filter keys that match the chunk's own fields rather than its metadata."""
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")


@dataclass
class StoreOps:
    """What this store instance was asked to write (rows), and searches."""

    upserted: int = 0
    deleted: int = 0
    searches: int = 0

    @property
    def writes(self) -> int:
        return self.upserted + self.deleted


def validate_filters(filters: Metadata | None) -> Metadata:
    """Filters are ``{key: scalar}``; keys are identifiers (they reach query languages)."""
    out: Metadata = {}
    for key, value in (filters or {}).items():
        if not isinstance(key, str) or not _KEY.match(key):
            raise InvalidRequestError(f"filter key {key!r} is not an identifier", param="filters")
        if not isinstance(value, str | int | float | bool) or value is None:
            raise InvalidRequestError(
                f"filter {key!r} must be a string, number or boolean", param="filters"
            )
        out[key] = value
    return out


class VectorStore(ABC):
    """Chunks' vectors with their filterable fields. Ids are chunk ids; upsert is idempotent."""

    name: str = "store"

    def __init__(self) -> None:
        self.ops = StoreOps()

    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk")
        if chunks:
            self._upsert(chunks, vectors)
            self.ops.upserted += len(chunks)

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self._delete(ids)
            self.ops.deleted += len(ids)

    def search(
        self, vector: Sequence[float], k: int, filters: Metadata | None = None
    ) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) of the ``k`` nearest chunks, best first."""
        self.ops.searches += 1
        return self._search(vector, k, validate_filters(filters))

    @abstractmethod
    def _upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None: ...

    @abstractmethod
    def _delete(self, ids: Sequence[str]) -> None: ...

    @abstractmethod
    def _search(
        self, vector: Sequence[float], k: int, filters: Metadata
    ) -> list[tuple[str, float]]: ...

    @abstractmethod
    def ids(self) -> set[str]:
        """Every chunk id held (for reconciling after a crash)."""

    @abstractmethod
    def count(self) -> int: ...

    def flush(self) -> None:  # noqa: B027 - most stores write through
        """Make every write so far durable (called before the docstore commits)."""

    def close(self) -> None:  # noqa: B027
        """Release connections and files."""

    def drop(self) -> None:
        """Remove the collection/table/index and all its data."""
        raise NotImplementedError
