"""Per-key RPM/TPM and parallel-request limits, in process or shared through Redis."""

from inferstack.gateway.limits.base import Admission, Counters, KeyLimits
from inferstack.gateway.limits.memory import MemoryCounters
from inferstack.gateway.limits.redis import RedisCounters

__all__ = ["Admission", "Counters", "KeyLimits", "MemoryCounters", "RedisCounters"]
