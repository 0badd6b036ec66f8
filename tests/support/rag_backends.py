"""Real vector-store backends for tests: Milvus Lite (a file), Milvus Lite's server mode on
127.0.0.1, and PostgreSQL + pgvector from PyPI ``pgserver``; each yields RagSettings overrides."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from support.servers import free_port
from support.services import wait_until

__all__ = ["RUNNABLE_STORES", "milvus_server", "pgvector_server", "store_overrides"]

RUNNABLE_STORES = ("milvus-lite", "milvus", "pgvector")


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def milvus_server() -> Iterator[str]:
    """``milvus-lite server`` on a free 127.0.0.1 port; yields its URI."""
    root = Path(tempfile.mkdtemp(prefix="inferstack-milvus-"))
    port = free_port()
    log = (root / "log").open("wb")
    cmd = [
        sys.executable,
        "-m",
        "milvus_lite",
        "server",
        "--data-dir",
        str(root / "data"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _accepts(port) or proc.poll() is not None, 120, "milvus-lite server")
        if proc.poll() is not None:
            raise RuntimeError((root / "log").read_text())
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def pgvector_server() -> Iterator[str]:
    """PostgreSQL 16 + pgvector from ``pgserver`` on a unix socket; yields its URI."""
    import pgserver

    root = Path(tempfile.mkdtemp(prefix="inferstack-pgv-"))
    server = pgserver.get_server(root, cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def store_overrides(kind: str, servers: dict[str, str]) -> Iterator[dict[str, Any]]:
    """RagSettings overrides for ``kind``, on the session's shared servers."""
    if kind == "milvus-lite":
        yield {"store": "milvus-lite"}
    else:
        yield {"store": kind, "store_uri": servers[kind]}
