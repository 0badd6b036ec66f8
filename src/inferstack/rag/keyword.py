"""The keyword index: BM25 (PyPI ``bm25s``, English stopwords, Snowball stemming) over the
docstore's committed chunks.

The index is derived from the docstore, never written separately: it is rebuilt when the
docstore's generation (bumped by every commit) moves, so it always shows exactly the chunks
that vector retrieval can show, and a crash cannot leave it out of step.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from inferstack.rag.docstore import DocStore
from inferstack.rag.stores.base import BUILTIN_FILTER_KEYS
from inferstack.rag.types import Metadata

__all__ = ["KeywordIndex"]


class KeywordIndex:
    def __init__(self, docstore: DocStore) -> None:
        self.docstore = docstore
        self._lock = threading.Lock()
        self._generation = -1
        self._ids: list[str] = []
        self._fields: list[dict[str, Any]] = []
        self._bm25: Any = None
        self._stemmer: Any = None
        self.builds = 0

    def search(
        self, query: str, k: int, filters: Metadata | None = None
    ) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) of the ``k`` best chunks with a positive score."""
        import bm25s

        with self._lock:
            self._refresh()
            if self._bm25 is None:
                return []
            tokens = bm25s.tokenize(
                [query],
                stopwords="en",
                stemmer=self._stemmer,
                return_ids=False,
                show_progress=False,
            )[0]
            vocab = self._bm25.vocab_dict
            tokens = [t for t in tokens if t in vocab]
            if not tokens:
                return []
            scores = np.asarray(self._bm25.get_scores(tokens), dtype=np.float64)
            if filters:
                scores = np.where(self._mask(filters), scores, 0.0)
            ids = self._ids
        n = min(k, int((scores > 0).sum()))
        if n == 0:
            return []
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(ids[i], float(scores[i])) for i in top]

    def _mask(self, filters: Metadata) -> np.ndarray:
        def match(fields: dict[str, Any]) -> bool:
            return all(fields.get(key) == value for key, value in filters.items())

        return np.fromiter((match(f) for f in self._fields), dtype=bool, count=len(self._fields))

    def _refresh(self) -> None:
        generation = self.docstore.generation()
        if generation == self._generation:
            return
        import bm25s
        import Stemmer

        self._stemmer = self._stemmer or Stemmer.Stemmer("english")
        ids, texts, fields = [], [], []
        for chunk_id, doc_id, source, text, metadata in self.docstore.committed_chunks():
            ids.append(chunk_id)
            texts.append(text)
            fields.append(
                {**metadata, **dict(zip(BUILTIN_FILTER_KEYS, (doc_id, source), strict=True))}
            )
        bm25 = None
        if texts:
            corpus = bm25s.tokenize(
                texts, stopwords="en", stemmer=self._stemmer, show_progress=False
            )
            bm25 = bm25s.BM25()
            bm25.index(corpus, show_progress=False)
        self._ids, self._fields, self._bm25 = ids, fields, bm25
        self._generation = generation
        self.builds += 1
