"""Settings of one model server."""

from __future__ import annotations

from pydantic import Field, SecretStr

from inferstack.config import Settings

__all__ = ["ServerSettings"]


class ServerSettings(Settings):
    """HTTP-side settings of a model server (env ``INFERSTACK_*``)."""

    host: str = Field("127.0.0.1", description="Address to bind; loopback unless told otherwise.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port to listen on (0: any free port).")
    served_model_names: list[str] = Field(
        default_factory=list,
        description="Extra model ids clients may use for this model besides the engine's own id.",
    )
    max_body_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="Largest request body accepted; larger gets 413."
    )
    max_waiting: int = Field(
        64,
        ge=0,
        description=(
            "Requests allowed to wait for a free sequence slot; beyond that the server answers "
            "429 with Retry-After before doing any work."
        ),
    )
    max_running: int | None = Field(
        None, ge=1, description="Requests served at once; defaults to the engine's concurrency."
    )
    retry_after_seconds: int = Field(1, ge=1, description="Retry-After sent with a 429.")
    request_timeout_seconds: float | None = Field(
        600.0,
        gt=0,
        description=(
            "Deadline of one generation request, queue wait included; past it the request ends "
            "with a 408 (or an SSE error event once streaming) and frees its slot. None: no limit."
        ),
    )
    write_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description=(
            "A stream whose client does not take a write within this time is dropped and its "
            "slot freed (clients that open streams and never read them)."
        ),
    )
    keepalive_seconds: float = Field(
        10.0,
        gt=0,
        description=(
            "A stream idle this long (waiting in the queue, say) gets an SSE comment so proxies "
            "and clients keep the connection; a streaming request still queued after this time "
            "gets its 200 and the keep-alives instead of waiting for its first token."
        ),
    )
    max_n: int = Field(
        8, ge=1, description="Largest ``n`` (choices per request) accepted; more gets a 400."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS; none unless configured."
    )
    api_key: SecretStr | None = Field(
        None,
        description="Internal token every /v1 request must carry as a bearer token (the one the "
        "gateway sends; env INFERSTACK_API_KEY); none: no check",
    )
