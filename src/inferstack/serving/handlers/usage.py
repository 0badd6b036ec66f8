"""Engine usage → OpenAI usage."""

from __future__ import annotations

from inferstack.engines.base import Usage
from inferstack.protocol import PromptTokensDetails
from inferstack.protocol import Usage as WireUsage

__all__ = ["to_protocol_usage"]


def to_protocol_usage(usage: Usage) -> WireUsage:
    return WireUsage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=usage.cached_tokens),
    )
