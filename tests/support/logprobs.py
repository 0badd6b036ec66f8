"""Reading logprobs the way a client does."""

from __future__ import annotations

__all__ = ["completion_token_bytes"]


def completion_token_bytes(token: str) -> bytes:
    """The bytes of a legacy completion's logprob token: its text, or, spelled
    ``bytes:\\xNN…`` (a token holding part of a UTF-8 character), the bytes it names."""
    if not token.startswith("bytes:"):
        return token.encode()
    escaped = token.removeprefix("bytes:").encode("ascii")
    return escaped.decode("unicode_escape").encode("latin-1")
