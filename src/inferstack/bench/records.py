"""What one benchmark request leaves behind: a timeline and its outcome.

Times are ``time.perf_counter()`` seconds. A record is produced by the HTTP client
(:mod:`inferstack.bench.client`) and consumed by the statistics (:mod:`inferstack.bench.stats`),
so synthetic timelines with known answers can test the statistics without a server.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["ErrorKind", "RequestRecord", "TokenSource"]


class TokenSource(StrEnum):
    """Where a request's output token count came from."""

    USAGE = "usage"
    """The server's usage object (the streamed usage chunk, ``stream_options.include_usage``)."""
    CHUNKS = "chunks"
    """Fallback: the number of streamed chunks that carried text (one token per chunk assumed)."""


class ErrorKind(StrEnum):
    """Why a request failed; the report counts errors by kind."""

    HTTP_429 = "http_429"
    HTTP_4XX = "http_4xx"
    HTTP_5XX = "http_5xx"
    CONNECT = "connect"
    TIMEOUT = "timeout"
    STREAM = "stream"
    """The stream broke, carried an error event, or ended without ``[DONE]``."""
    CANCELLED = "cancelled"
    """Still running when the run's time cap was reached."""


@dataclass(slots=True)
class RequestRecord:
    """Timeline of one request: when it started, when each text chunk arrived, when it ended."""

    start: float
    """When the request was due: its scheduled arrival (open loop) or its send (closed loop)."""
    end: float = 0.0
    chunk_times: list[float] = field(default_factory=list)
    """Arrival time of every streamed chunk that carried output text."""
    output_tokens: int = 0
    prompt_tokens: int | None = None
    token_source: TokenSource = TokenSource.CHUNKS
    error: ErrorKind | None = None
    status: int | None = None
    detail: str = ""
    warmup: bool = False
    sent: float | None = None
    """When the request actually left the client (after any wait for the in-flight cap)."""

    @property
    def client_wait(self) -> float:
        """Time the request waited in the client between its scheduled start and its send."""
        return max((self.sent or self.start) - self.start, 0.0)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def ttft(self) -> float | None:
        """Time to first token: from sending the request to the first text chunk."""
        return self.chunk_times[0] - self.start if self.chunk_times else None

    @property
    def e2e(self) -> float:
        """End-to-end latency: from sending the request to the end of the stream."""
        return self.end - self.start

    def inter_token_gaps(self) -> list[float]:
        """Gaps between consecutive text chunks (the stream's inter-token latencies)."""
        times = self.chunk_times
        return [b - a for a, b in itertools.pairwise(times)]

    @property
    def tpot(self) -> float | None:
        """Mean time per output token after the first (decode speed seen by this request)."""
        if len(self.chunk_times) < 2 or self.output_tokens < 2:
            return None
        return (self.chunk_times[-1] - self.chunk_times[0]) / (self.output_tokens - 1)
