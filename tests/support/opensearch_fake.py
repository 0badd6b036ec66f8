"""An OpenSearch stand-in on 127.0.0.1 for the parts of the REST API the k-NN store uses.

No OpenSearch server runs on these machines, so the store is driven through the real
``opensearch-py`` client against this server, which checks requests the way OpenSearch
documents them and refuses what OpenSearch would refuse:

- ``PUT /{index}``: ``settings.index.knn`` must be true for a ``knn_vector`` field, which needs
  an integer ``dimension`` and a ``method`` with ``name`` (hnsw/ivf), ``space_type`` (l2,
  cosinesimil, innerproduct, l1, linf) and ``engine`` (lucene, faiss, nmslib); unknown field
  types are a ``mapper_parsing_exception``;
- ``POST /_bulk``: NDJSON action/source pairs; a vector of the wrong length fails that item;
- ``POST /{index}/_search``: ``knn`` queries (``vector``, ``k``, optional ``filter``) scored as
  the lucene engine scores cosinesimil, ``(1 + cos) / 2``; ``term`` filters on keyword fields;
  ``match_all`` with ``scroll`` for the scan helper;
- ``_count``, ``_refresh``, ``HEAD``/``DELETE /{index}``.
"""

from __future__ import annotations

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

__all__ = ["FakeOpenSearch"]

SPACES = {"l2", "cosinesimil", "innerproduct", "l1", "linf"}
ENGINES = {"lucene", "faiss", "nmslib"}
TYPES = {"keyword", "text", "object", "knn_vector", "integer", "long", "float", "boolean"}


class _Index:
    def __init__(self, body: dict[str, Any]) -> None:
        self.knn = bool(body.get("settings", {}).get("index", {}).get("knn"))
        self.mappings = body.get("mappings", {})
        self.docs: dict[str, dict[str, Any]] = {}
        self.visible: dict[str, dict[str, Any]] = {}  # what a search sees: after a refresh
        self.vector_field, self.dimension = None, 0
        for name, spec in self.mappings.get("properties", {}).items():
            if spec.get("type") == "knn_vector":
                self.vector_field, self.dimension = name, spec["dimension"]


def _mapping_error(body: dict[str, Any]) -> str | None:
    knn_on = bool(body.get("settings", {}).get("index", {}).get("knn"))
    for name, spec in body.get("mappings", {}).get("properties", {}).items():
        kind = spec.get("type")
        if kind not in TYPES:
            return f"No handler for type [{kind}] declared on field [{name}]"
        if kind != "knn_vector":
            continue
        if not knn_on:
            return "knn_vector requires index.knn: true"
        if not isinstance(spec.get("dimension"), int) or spec["dimension"] <= 0:
            return f"[dimension] must be a positive integer on field [{name}]"
        method = spec.get("method", {})
        if method.get("name") not in {"hnsw", "ivf"}:
            return f"unknown method [{method.get('name')}]"
        if method.get("space_type") not in SPACES or method.get("engine") not in ENGINES:
            return "invalid space_type or engine"
    return None


def _field(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _matches(doc: dict[str, Any], clause: dict[str, Any]) -> bool:
    if "term" in clause:
        ((path, value),) = clause["term"].items()
        if isinstance(value, dict):
            value = value["value"]
        return bool(_field(doc, path) == value)
    if "bool" in clause:
        return all(_matches(doc, c) for c in clause["bool"].get("filter", []))
    if "match_all" in clause:
        return True
    raise ValueError(f"unsupported clause {sorted(clause)}")


def _cos(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


class FakeOpenSearch:
    def __init__(self) -> None:
        self.indices: dict[str, _Index] = {}
        self.requests: list[tuple[str, str, Any]] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def _reply(self, status: int, body: Any = None) -> None:
                data = json.dumps(body if body is not None else {}).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                with fake._lock:
                    status, body = fake.route(self.command, self.path, raw)
                self._reply(status, body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- the REST API --------------------------------------------------------------------

    def route(self, method: str, target: str, raw: str) -> tuple[int, Any]:
        path = urlparse(target).path.strip("/")
        parts = path.split("/") if path else []
        self.requests.append((method, path, raw))
        if parts == ["_bulk"] and method in {"POST", "PUT"}:
            return self.bulk(raw)
        if parts[:2] == ["_search", "scroll"]:
            return 200, ({} if method == "DELETE" else self._hits([], scroll=True))
        if not parts:
            return 200, {"version": {"distribution": "opensearch", "number": "2.19.0"}}
        index = parts[0]
        rest = parts[1:]
        if not rest:
            return self.index_op(method, index, raw)
        if index not in self.indices:
            return 404, _error("index_not_found_exception", f"no such index [{index}]")
        idx = self.indices[index]
        if rest == ["_refresh"]:
            idx.visible = dict(idx.docs)
            return 200, {"_shards": {"total": 1, "successful": 1, "failed": 0}}
        if rest == ["_count"]:
            return 200, {"count": len(idx.visible)}
        if rest == ["_search"]:
            return self.search(idx, json.loads(raw) if raw else {}, "scroll=" in target)
        return 400, _error("illegal_argument_exception", f"unsupported {method} {path}")

    def index_op(self, method: str, index: str, raw: str) -> tuple[int, Any]:
        if method == "HEAD":
            return (200 if index in self.indices else 404), None
        if method == "DELETE":
            if index not in self.indices:
                return 404, _error("index_not_found_exception", index)
            del self.indices[index]
            return 200, {"acknowledged": True}
        if method == "PUT":
            if index in self.indices:
                return 400, _error("resource_already_exists_exception", index)
            body = json.loads(raw) if raw else {}
            problem = _mapping_error(body)
            if problem:
                return 400, _error("mapper_parsing_exception", problem)
            self.indices[index] = _Index(body)
            return 200, {"acknowledged": True, "index": index}
        return 405, _error("illegal_argument_exception", method)

    def bulk(self, raw: str) -> tuple[int, Any]:
        lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
        items, errors, i = [], False, 0
        while i < len(lines):
            ((op, meta),) = lines[i].items()
            i += 1
            idx = self.indices.get(meta["_index"])
            if idx is None:
                return 404, _error("index_not_found_exception", meta["_index"])
            if op == "delete":
                found = idx.docs.pop(meta["_id"], None) is not None
                items.append(
                    {
                        "delete": {
                            "_id": meta["_id"],
                            "status": 200 if found else 404,
                            "result": "deleted" if found else "not_found",
                        }
                    }
                )
                continue
            source = lines[i]
            i += 1
            vector = source.get(idx.vector_field or "", [])
            if idx.vector_field and len(vector) != idx.dimension:
                errors = True
                items.append(
                    {
                        op: {
                            "_id": meta["_id"],
                            "status": 400,
                            "error": {
                                "type": "mapper_parsing_exception",
                                "reason": f"Vector dimension mismatch. Expected: {idx.dimension}",
                            },
                        }
                    }
                )
                continue
            created = meta["_id"] not in idx.docs
            idx.docs[meta["_id"]] = source
            items.append(
                {
                    op: {
                        "_id": meta["_id"],
                        "status": 201 if created else 200,
                        "result": "created" if created else "updated",
                    }
                }
            )
        return 200, {"took": 1, "errors": errors, "items": items}

    def search(self, idx: _Index, body: dict[str, Any], scroll: bool) -> tuple[int, Any]:
        query = body.get("query", {"match_all": {}})
        if "knn" in query:
            if not idx.knn:
                return 400, _error("illegal_argument_exception", "index is not a knn index")
            ((field, spec),) = query["knn"].items()
            if field != idx.vector_field or "vector" not in spec or "k" not in spec:
                return 400, _error("parsing_exception", "knn needs a knn_vector field, vector, k")
            if len(spec["vector"]) != idx.dimension:
                return 400, _error("illegal_argument_exception", "query vector dimension")
            flt = spec.get("filter")
            scored = [
                (doc_id, (1 + _cos(spec["vector"], doc[field])) / 2)
                for doc_id, doc in idx.visible.items()
                if flt is None or _matches(doc, flt)
            ]
            scored.sort(key=lambda x: -x[1])
            size = min(spec["k"], body.get("size", 10))
            return 200, self._hits(scored[:size], scroll=scroll)
        hits = [(doc_id, 1.0) for doc_id, doc in idx.visible.items() if _matches(doc, query)]
        return 200, self._hits(hits, scroll=scroll)

    @staticmethod
    def _hits(hits: list[tuple[str, float]], *, scroll: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "took": 1,
            "timed_out": False,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {
                "total": {"value": len(hits), "relation": "eq"},
                "max_score": hits[0][1] if hits else None,
                "hits": [{"_index": "i", "_id": i, "_score": s} for i, s in hits],
            },
        }
        if scroll:
            body["_scroll_id"] = "scroll-1"
        return body


def _error(kind: str, reason: str) -> dict[str, Any]:
    return {
        "error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason},
        "status": 400,
    }
