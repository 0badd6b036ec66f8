"""``inferstack up --rag``: the RAG service beside the stack, on Milvus Lite's server mode.

Milvus Lite opened from a file allows one process at a time, so the stack runs it as a server
(``milvus-lite server`` on 127.0.0.1) shared by ``inferstack rag serve`` and every
``inferstack ingest`` / ``ask``, which find both through ``stack.json``.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inferstack.cli.up import Stack

__all__ = ["add_arguments", "start_rag"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--rag",
        action="store_true",
        help="also serve the RAG service (/v1/rag/query) on a Milvus Lite server",
    )
    p.add_argument("--rag-port", type=int, default=8100, help="RAG service port (default: 8100)")
    p.add_argument(
        "--milvus-port", type=int, default=19530, help="Milvus Lite server port (default: 19530)"
    )


def _accepting(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _milvus(args: argparse.Namespace, stack: Stack) -> dict[str, Any]:
    log = stack.state / "logs" / "milvus.log"
    data = stack.state / "rag" / "milvus"
    data.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    cmd = [
        sys.executable,
        "-m",
        "milvus_lite",
        "server",
        "--data-dir",
        str(data),
        "--host",
        args.host,
        "--port",
        str(args.milvus_port),
    ]
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    process = stack.adopt("milvus", proc, log)
    deadline = time.monotonic() + args.ready_timeout
    while not _accepting(args.host, args.milvus_port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"milvus-lite server did not start; see {log}")
        time.sleep(0.2)
    uri = f"http://{args.host}:{args.milvus_port}"
    return {"url": uri, "base_url": uri, "pid": process.process.pid, "log": str(log)}


def start_rag(args: argparse.Namespace, stack: Stack) -> dict[str, dict[str, Any]]:
    """Start Milvus Lite's server and ``rag serve`` (stack.json must already name the models)."""
    from inferstack.cli.up import _wait_ready

    if args.embedding_model == "none":
        raise SystemExit("--rag needs the embedding model (drop --embedding-model none)")
    milvus = _milvus(args, stack)
    kb_dir = stack.state / "rag"
    argv = [
        "rag",
        "serve",
        "--host",
        args.host,
        "--port",
        str(args.rag_port),
        "--state-dir",
        str(stack.state),
        "--kb-dir",
        str(kb_dir),
        "--store",
        "milvus",
        "--store-uri",
        milvus["url"],
    ]
    process = stack.start("rag", argv)
    url = f"http://{args.host}:{args.rag_port}"
    _wait_ready(process, f"{url}/ready", args.ready_timeout)
    rag = {
        "url": url,
        "base_url": f"{url}/v1/rag",
        "pid": process.process.pid,
        "log": str(process.log),
        "kb_dir": str(kb_dir),
        "store": "milvus",
        "store_uri": milvus["url"],
    }
    return {"milvus": milvus, "rag": rag}
