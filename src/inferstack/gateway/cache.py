"""Exact response cache for deterministic requests (temperature 0, embeddings), off by default."""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from typing import Any, Protocol

__all__ = ["MemoryCache", "RedisCache", "ResponseCache", "cache_key", "is_cacheable"]


def is_cacheable(endpoint: str, body: dict[str, Any]) -> bool:
    """Only answers that the same request would reproduce: embeddings, or temperature 0."""
    if body.get("stream"):
        return False
    if endpoint == "/embeddings":
        return True
    return body.get("temperature") == 0 and body.get("n", 1) == 1


def cache_key(endpoint: str, body: dict[str, Any], *, scope: str) -> str:
    """The entry of ``body`` for callers in ``scope`` (a key id, or "shared")."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{scope}\n{endpoint}\n{canonical}".encode()).hexdigest()


class ResponseCache(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes) -> None: ...


class MemoryCache:
    """An LRU of response bodies with a time to live, bounded by entries and by bytes."""

    def __init__(self, *, ttl_s: float, max_entries: int, max_bytes: int) -> None:
        self._ttl_s = ttl_s
        self._max = max_entries
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def _drop(self, key: str) -> None:
        _, value = self._entries.pop(key)
        self._bytes -= len(value)

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry[1]

    async def set(self, key: str, value: bytes) -> None:
        if len(value) > self._max_bytes:
            return  # never evict everything for one huge answer
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (time.monotonic() + self._ttl_s, value)
        self._bytes += len(value)
        while len(self._entries) > self._max or self._bytes > self._max_bytes:
            self._drop(next(iter(self._entries)))


class RedisCache:
    """Response bodies in Redis with ``SET … PX`` expiry, shared by replicas."""

    def __init__(self, client: Any, *, ttl_s: float, prefix: str = "inferstack:gw:cache:") -> None:
        self._client = client
        self._ttl_ms = int(ttl_s * 1000)
        self._prefix = prefix

    async def get(self, key: str) -> bytes | None:
        value = await self._client.get(self._prefix + key)
        return bytes(value) if value is not None else None

    async def set(self, key: str, value: bytes) -> None:
        await self._client.set(self._prefix + key, value, px=self._ttl_ms)
