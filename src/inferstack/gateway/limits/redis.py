"""Counters and leases in Redis, so several gateway replicas share one set of limits."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from redis.exceptions import RedisError

from inferstack.errors import ServiceUnavailableError

__all__ = ["RedisCounters"]

T = TypeVar("T")


async def _guarded(call: Awaitable[T]) -> T:
    """Limits fail closed: with Redis unreachable a request is refused with 503, not 500."""
    try:
        return await call
    except (RedisError, OSError) as exc:
        raise ServiceUnavailableError(
            f"the limit store is unavailable ({type(exc).__name__}); retry shortly",
            headers={"Retry-After": "5"},
        ) from exc


# Add atomically, refusing (and undoing) an add that would pass the limit; -1 means "no limit".
# A negative amount (a reservation settled for less) is always applied.
_ADD = """
local c = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
local limit = tonumber(ARGV[2])
if limit >= 0 and tonumber(ARGV[1]) > 0 and c > limit then
  redis.call('DECRBY', KEYS[1], ARGV[1])
  return 0
end
return 1
"""

# One hash per limit; field = lease id, value = "amount expiry_ms". Expired leases are dropped
# whenever the hash is touched, so a lease whose release was lost (a replica killed, a
# settlement cancelled) frees itself; Redis's own clock keeps replicas in agreement.
_PRUNE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local held = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local amount, expiry = string.match(all[i + 1], '^(%S+) (%S+)$')
  if tonumber(expiry) <= now then
    redis.call('HDEL', KEYS[1], all[i])
  elseif all[i] ~= ARGV[1] then
    held = held + tonumber(amount)
  end
end
"""

_LEASE = (
    _PRUNE
    + """
local limit = tonumber(ARGV[3])
if limit >= 0 and held + tonumber(ARGV[2]) > limit then return 0 end
local ttl = tonumber(ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. (now + ttl))
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
"""
)

_HELD = _PRUNE + "\nreturn tostring(held)\n"


class RedisCounters:
    """Counters and leases under ``prefix`` in one Redis database (``redis.asyncio`` client)."""

    def __init__(self, client: Any, *, prefix: str = "inferstack:gw:") -> None:
        self._client = client
        self._prefix = prefix
        self._add = client.register_script(_ADD)
        self._lease = client.register_script(_LEASE)
        self._held = client.register_script(_HELD)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisCounters:
        from redis.asyncio import Redis

        return cls(Redis.from_url(url), **kwargs)

    async def add(self, name: str, amount: int, limit: int | None, ttl_s: int) -> bool:
        added = await _guarded(
            self._add(
                keys=[self._prefix + name], args=[amount, -1 if limit is None else limit, ttl_s]
            )
        )
        return bool(int(added))

    async def get(self, name: str) -> int:
        value = await _guarded(self._client.get(self._prefix + name))
        return int(value) if value is not None else 0

    async def lease(
        self, name: str, lease_id: str, amount: float, limit: float | None, ttl_s: float
    ) -> bool:
        args = [lease_id, repr(float(amount)), -1 if limit is None else repr(float(limit))]
        granted = await _guarded(
            self._lease(keys=[self._prefix + name], args=[*args, max(1, int(ttl_s * 1000))])
        )
        return bool(int(granted))

    async def held(self, name: str) -> float:
        return float(await _guarded(self._held(keys=[self._prefix + name], args=[""])))

    async def release(self, name: str, lease_id: str) -> None:
        await _guarded(self._client.hdel(self._prefix + name, lease_id))

    async def close(self) -> None:
        await self._client.aclose()
