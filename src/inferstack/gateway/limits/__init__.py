"""Per-key RPM/TPM and parallel-request limits, in process or shared through Redis."""

from inferstack.gateway.limits.base import Counters, KeyLimits
from inferstack.gateway.limits.memory import MemoryCounters
from inferstack.gateway.limits.redis import RedisCounters

__all__ = ["Counters", "KeyLimits", "MemoryCounters", "RedisCounters"]
