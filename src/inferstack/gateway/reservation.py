"""The worst case of one request, reserved against a key's TPM and budget at admission.

The gateway does not tokenize, so the prompt is bounded by the body's size in bytes: a
byte-level tokenizer never makes more tokens than bytes, and the JSON around the text is more
than the chat template adds. The output is bounded by ``max_tokens`` (or
``max_completion_tokens``) times ``n``; a request that sets neither reserves
``default_output_tokens`` and settles for what it really used.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from inferstack.gateway.deployments import Deployment

__all__ = ["WorstCase", "prompt_estimate", "worst_case"]


@dataclass(frozen=True)
class WorstCase:
    tokens: int
    cost: float


def _int(value: Any, default: int) -> int:
    valid = isinstance(value, int) and not isinstance(value, bool) and value > 0
    return value if valid else default


def prompt_estimate(raw: bytes) -> int:
    """A typical prompt size (about four bytes a token), charged when usage never arrives."""
    return max(1, len(raw) // 4)


def worst_case(
    endpoint: str,
    body: dict[str, Any],
    raw: bytes,
    deployments: Iterable[Deployment],
    *,
    default_output_tokens: int,
    timeout_s: float,
) -> WorstCase:
    """Tokens and USD the request can use at most on the priciest of ``deployments``."""
    prompt = len(raw)
    output = 0
    if endpoint != "/embeddings":
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        output = _int(limit, default_output_tokens) * max(
            _int(body.get("n"), 1), _int(body.get("best_of"), 1)
        )
    cost = 0.0
    for dep in deployments:
        price = dep.config
        seconds = price.timeout_s or timeout_s
        cost = max(
            cost,
            prompt * price.input_cost_per_million / 1_000_000
            + output * price.output_cost_per_million / 1_000_000
            + seconds * price.cost_per_second,
        )
    return WorstCase(tokens=prompt + output, cost=cost)
