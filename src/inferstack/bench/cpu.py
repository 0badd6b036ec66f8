"""CPU use of a local target process, read from ``/proc`` (Linux only).

The target is given by PID or found from the TCP port it listens on (``/proc/net/tcp*`` gives
the listening socket's inode; the process holding that inode in ``/proc/*/fd`` owns it). The
process and all its descendants are counted, so a server with worker processes is measured whole.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

__all__ = ["CpuSampler", "find_pid_by_port", "process_tree_cpu_seconds"]

log = logging.getLogger(__name__)

_PROC = Path("/proc")
_TCP_LISTEN = "0A"


def _listening_inodes(port: int, proc: Path) -> set[str]:
    inodes: set[str] = set()
    for table in ("net/tcp", "net/tcp6"):
        try:
            lines = (proc / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _TCP_LISTEN:
                continue
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def find_pid_by_port(port: int, proc: Path = _PROC) -> int | None:
    """The PID of the process listening on TCP ``port`` on this machine, if visible."""
    inodes = _listening_inodes(port, proc)
    if not inodes:
        return None
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in wanted:
                    return int(entry.name)
        except OSError:
            continue
    return None


def _stat_fields(pid: int, proc: Path) -> list[str] | None:
    try:
        raw = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces: split after its closing parenthesis.
    return raw[raw.rindex(")") + 2 :].split()


def _children(proc: Path) -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in proc.iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name), proc)):
            tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def process_tree_cpu_seconds(pid: int, proc: Path = _PROC) -> float | None:
    """User + system CPU seconds of ``pid`` and its descendants; None if it is gone."""
    if _stat_fields(pid, proc) is None:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    tree = _children(proc)
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        fields = _stat_fields(current, proc)
        if fields is not None:
            # After the command name: state is index 0, utime index 11, stime index 12.
            total += (int(fields[11]) + int(fields[12])) / ticks
        stack.extend(tree.get(current, []))
    return total


class CpuSampler:
    """Measures a process tree's CPU use between :meth:`start` and :meth:`stop`."""

    def __init__(self, pid: int, proc: Path = _PROC) -> None:
        self.pid = pid
        self._proc = proc
        self._t0: float | None = None
        self._cpu0: float | None = None

    def start(self) -> None:
        self._t0, self._cpu0 = time.perf_counter(), process_tree_cpu_seconds(self.pid, self._proc)

    def stop(self) -> float | None:
        """CPU use since :meth:`start`, in cores (1.0 = one core busy all the time)."""
        cpu1 = process_tree_cpu_seconds(self.pid, self._proc)
        if self._t0 is None or self._cpu0 is None or cpu1 is None:
            return None
        elapsed = time.perf_counter() - self._t0
        return (cpu1 - self._cpu0) / elapsed if elapsed > 0 else None
