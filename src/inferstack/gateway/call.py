"""One proxied request as the gateway sees it once it has been authenticated and parsed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opentelemetry.trace import Span

from inferstack.gateway.key_types import KeyRecord
from inferstack.gateway.limits import Admission

__all__ = ["ProxyCall"]


@dataclass
class ProxyCall:
    request_id: str
    endpoint: str  # OpenAI path below /v1, e.g. "/chat/completions"
    body: dict[str, Any]
    raw: bytes  # the client's body, forwarded untouched when nothing needs changing
    model_group: str
    stream: bool
    wants_usage: bool  # the client itself asked for stream_options.include_usage
    body_changed: bool  # the guardrail redacted the body: send the re-serialized one
    key: KeyRecord
    received_at: float  # perf_counter when the request reached the gateway
    admission: Admission = field(default_factory=lambda: Admission(lease_id=""))
    prompt_estimate: int = 0  # prompt tokens charged if the upstream's usage never arrives
    done: bool = False  # usage recorded and limits released
    overhead_seen: bool = False  # gateway overhead observed (first attempt only)
    span: Span | None = None  # the GenAI call span, ended when the call is settled
    attempts: int = 0  # upstream attempts so far
