"""A throwaway PostgreSQL cluster on 127.0.0.1 for benchmarks (Debian's PostgreSQL binaries),
with a random password, fsync off, removed when done."""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["find_pg_bin", "postgres_cluster"]


def find_pg_bin() -> Path | None:
    """The newest PostgreSQL under /usr/lib/postgresql/N/bin (``INFERSTACK_PG_BIN`` wins)."""
    if override := os.environ.get("INFERSTACK_PG_BIN"):
        return Path(override)
    found = [Path(d) for d in glob.glob("/usr/lib/postgresql/*/bin") if Path(d, "initdb").is_file()]
    return (
        max(found, key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else -1)
        if found
        else None
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb refuses root: run PostgreSQL's tools as the postgres user when we are root."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


@contextmanager
def postgres_cluster(*, max_connections: int = 100, shared_buffers: str = "512MB") -> Iterator[str]:
    """Start a cluster; yields its SQLAlchemy async URL (``postgresql+asyncpg://…``)."""
    pg_bin = find_pg_bin()
    if pg_bin is None:
        raise RuntimeError("PostgreSQL not found under /usr/lib/postgresql/*/bin: make system-deps")
    root = Path(tempfile.mkdtemp(prefix="inferstack-bench-pg-"))
    data, pwfile = root / "data", root / "pw"
    password = secrets.token_urlsafe(16)
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(pwfile, "postgres", "postgres")
    os.chmod(root, 0o700)
    initdb = [str(pg_bin / "initdb"), "-D", str(data), "-U", "postgres", "-A", "scram-sha-256"]
    subprocess.run(
        _as_postgres([*initdb, f"--pwfile={pwfile}"]), check=True, capture_output=True, timeout=120
    )
    port = _free_port()
    opts = (
        f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c synchronous_commit=off "
        f"-c max_connections={max_connections} -c shared_buffers={shared_buffers} "
        "-c max_wal_size=4GB -c maintenance_work_mem=256MB -c work_mem=32MB"
    )
    start = [str(pg_bin / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-o", opts]
    subprocess.run(
        _as_postgres([*start, "-w", "-t", "60", "start"]),
        check=True,
        capture_output=True,
        timeout=90,
    )
    try:
        yield f"postgresql+asyncpg://postgres:{password}@127.0.0.1:{port}/postgres"
    finally:
        stop = [str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
        subprocess.run(_as_postgres(stop), capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
