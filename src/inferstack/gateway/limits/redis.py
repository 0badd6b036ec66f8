"""Counters in Redis, so several gateway replicas share one set of limits."""

from __future__ import annotations

from typing import Any

__all__ = ["RedisCounters"]

# Add atomically, refusing (and undoing) an add that would pass the limit; -1 means "no limit".
_ADD = """
local c = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
local limit = tonumber(ARGV[2])
if limit >= 0 and c > limit then
  redis.call('DECRBY', KEYS[1], ARGV[1])
  return 0
end
return 1
"""

_RELEASE = """
local c = redis.call('DECR', KEYS[1])
if c < 0 then redis.call('SET', KEYS[1], 0, 'KEEPTTL') end
return c
"""


class RedisCounters:
    """Counters under ``prefix`` in one Redis database (``redis.asyncio`` client)."""

    def __init__(self, client: Any, *, prefix: str = "inferstack:gw:") -> None:
        self._client = client
        self._prefix = prefix
        self._add = client.register_script(_ADD)
        self._release = client.register_script(_RELEASE)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisCounters:
        from redis.asyncio import Redis

        return cls(Redis.from_url(url), **kwargs)

    async def add(self, name: str, amount: int, limit: int | None, ttl_s: int) -> bool:
        added = await self._add(
            keys=[self._prefix + name], args=[amount, -1 if limit is None else limit, ttl_s]
        )
        return bool(int(added))

    async def get(self, name: str) -> int:
        value = await self._client.get(self._prefix + name)
        return int(value) if value is not None else 0

    async def release(self, name: str) -> None:
        await self._release(keys=[self._prefix + name])

    async def close(self) -> None:
        await self._client.aclose()
