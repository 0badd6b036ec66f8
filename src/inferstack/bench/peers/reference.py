"""Starting the reference-design peer (:mod:`inferstack.bench.peers.reference_app`)."""

from __future__ import annotations

import sys

from inferstack.bench.peers.base import Peer, cache_dir, free_port

__all__ = ["reference_server"]


def reference_server(
    model_path: str, port: int = 0, threads: int = 2, ctx_per_seq: int = 2048
) -> Peer:
    """A (not yet started) reference-design peer on 127.0.0.1; needs llama-cpp-python."""
    port = port or free_port()
    cmd = [
        sys.executable, "-m", "inferstack.bench.peers.reference_app",
        "--model", model_path, "--port", str(port), "--threads", str(threads),
        "--ctx-size", str(ctx_per_seq),
    ]  # fmt: skip
    return Peer("reference", cmd, port, "/health", cache_dir() / f"reference-{port}.log")
