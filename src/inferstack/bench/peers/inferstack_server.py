"""inferstack's own model server started as a peer (``inferstack serve`` in a subprocess).

Only the command line is used: the bench never imports the serving package.
"""

from __future__ import annotations

import sys

from inferstack.bench.peers.base import Peer, cache_dir, free_port

__all__ = ["inferstack_server"]


def inferstack_server(
    model: str = "default",
    port: int = 0,
    threads: int = 2,
    parallel: int = 16,
    ctx_per_seq: int = 2048,
    extra_args: list[str] | None = None,
) -> Peer:
    """A (not yet started) ``inferstack serve`` on 127.0.0.1; ready when ``/ready`` is 200."""
    port = port or free_port()
    cmd = [
        sys.executable, "-m", "inferstack.cli.main", "serve",
        "--model", model, "--host", "127.0.0.1", "--port", str(port),
        "--threads", str(threads), "--parallel", str(parallel), "--ctx-size", str(ctx_per_seq),
        *(extra_args or []),
    ]  # fmt: skip
    return Peer("inferstack", cmd, port, "/ready", cache_dir() / f"inferstack-{port}.log")
