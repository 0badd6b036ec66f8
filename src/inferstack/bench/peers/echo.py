"""Starting the echo peer (:mod:`inferstack.bench.peers.echo_app`), a fast fake upstream."""

from __future__ import annotations

import sys

from inferstack.bench.peers.base import Peer, cache_dir, free_port
from inferstack.bench.peers.echo_app import DEFAULT_TOKENS

__all__ = ["echo_server"]


def echo_server(
    port: int = 0, tokens: int = DEFAULT_TOKENS, extra_args: list[str] | None = None
) -> Peer:
    """A (not yet started) echo responder on 127.0.0.1: ``tokens`` tokens per answer, at once."""
    port = port or free_port()
    cmd = [
        sys.executable, "-m", "inferstack.bench.peers.echo_app",
        "--port", str(port), "--tokens", str(tokens), *(extra_args or []),
    ]  # fmt: skip
    return Peer("echo", cmd, port, "/health", cache_dir() / f"echo-{port}.log")
