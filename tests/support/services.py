"""Real backing services for tests: a throwaway PostgreSQL cluster, and waiting on readiness."""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from support.servers import free_port

__all__ = ["PG_BIN", "find_pg_bin", "postgres_cluster", "wait_until"]


def find_pg_bin(pattern: str = "/usr/lib/postgresql/*/bin") -> Path | None:
    """The newest installed PostgreSQL's bin directory (Debian installs one per major version
    under /usr/lib/postgresql/N/bin), or ``INFERSTACK_TEST_PG_BIN`` when set; None if absent."""
    if override := os.environ.get("INFERSTACK_TEST_PG_BIN"):
        return Path(override)
    found = [Path(d) for d in glob.glob(pattern) if (Path(d) / "initdb").is_file()]

    def major(d: Path) -> tuple[int, str]:
        name = d.parent.name
        return (int(name), name) if name.isdigit() else (-1, name)

    return max(found, key=major) if found else None


PG_BIN = find_pg_bin()


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} not ready after {timeout} s")


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb refuses root: run PostgreSQL's tools as the postgres user when we are root."""
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser")
    return (
        [runuser, "-u", "postgres", "--", *cmd]
        if runuser
        else ["su", "postgres", "-c", " ".join(cmd)]
    )


@contextmanager
def postgres_cluster(*, max_connections: int = 50) -> Iterator[str]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 with a random password (not trust auth);
    yields its SQLAlchemy async URL. Fails (never skips) when PostgreSQL is not installed:
    ``make system-deps`` installs it."""
    if PG_BIN is None or not (PG_BIN / "initdb").is_file():
        pytest.fail(
            "PostgreSQL's initdb not found under /usr/lib/postgresql/*/bin: make system-deps"
        )
    root = Path(tempfile.mkdtemp(prefix="inferstack-pg-"))
    data, pwfile = root / "data", root / "pw"
    password = secrets.token_urlsafe(16)
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(pwfile, "postgres", "postgres")
    os.chmod(root, 0o700)
    os.chmod(pwfile, 0o600)
    port = free_port()
    initdb = [
        str(PG_BIN / "initdb"),
        "-D",
        str(data),
        "-U",
        "postgres",
        "-A",
        "scram-sha-256",
        f"--pwfile={pwfile}",
    ]
    subprocess.run(_as_postgres(initdb), check=True, capture_output=True, timeout=120)
    opts = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections={max_connections}"
    start = [
        str(PG_BIN / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(root / "log"),
        "-o",
        opts,
        "-w",
        "-t",
        "60",
        "start",
    ]
    subprocess.run(_as_postgres(start), check=True, capture_output=True, timeout=90)
    try:
        yield f"postgresql+asyncpg://postgres:{password}@127.0.0.1:{port}/postgres"
    finally:
        stop = [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
        subprocess.run(_as_postgres(stop), capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
