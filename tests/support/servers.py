"""Starting real `inferstack serve` processes on 127.0.0.1 for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

READY_TIMEOUT = 300.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningServer:
    url: str
    model: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(
    *args: str, env: dict[str, str] | None = None, python: str = sys.executable
) -> RunningServer:
    """Start ``inferstack serve ARGS`` on a free port (with ``python``, default this test's
    interpreter) and wait until /ready answers."""
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="inferstack-serve-", suffix=".log")[1])
    cmd = [python, "-m", "inferstack.cli.main", "serve", "--port", str(port), *args]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            r = httpx.get(f"{url}/ready", timeout=2)
            if r.status_code == 200:
                return RunningServer(url, r.json()["model"], proc, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server not ready after {READY_TIMEOUT} s:\n{log.read_text()}")


def stop_server(server: RunningServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
