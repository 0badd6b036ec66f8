"""The usage outbox: a local write-ahead log of usage entries.

Every entry is appended here (one JSON line, one ``write``) before the client gets its answer,
and stays until the database has it. A process killed with SIGKILL loses nothing the kernel has
(only a machine crash can lose the last page: the gateway does not fsync per request). Each
process writes its own segment files and holds an exclusive ``flock`` on them; a process that
starts claims the segments no live process holds and replays them. Entries carry a unique id
and the database refuses a second copy, so a replay never doubles a row.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from inferstack.gateway.usage import Usage, UsageEntry

__all__ = ["Outbox"]

logger = logging.getLogger(__name__)

_SEGMENT_BYTES = 4 * 1024 * 1024


_STORED = tuple(
    name
    for name in UsageEntry.__dataclass_fields__
    if name not in ("usage", "created_at", "segment", "fresh")
)


def _encode(entry: UsageEntry) -> bytes:
    fields = entry.__dict__
    data: dict[str, Any] = {name: fields[name] for name in _STORED}
    data["prompt_tokens"] = entry.usage.prompt_tokens
    data["completion_tokens"] = entry.usage.completion_tokens
    data["created_at"] = entry.created_at.isoformat()
    return json.dumps(data, separators=(",", ":")).encode() + b"\n"


def _decode(line: bytes) -> UsageEntry:
    data = json.loads(line)
    usage = Usage(data.pop("prompt_tokens"), data.pop("completion_tokens"))
    created_at = datetime.fromisoformat(data.pop("created_at"))
    return UsageEntry(usage=usage, created_at=created_at, fresh=False, **data)


@dataclass
class _Segment:
    path: Path
    fd: int
    outstanding: int = 0  # entries in it not yet in the database
    size: int = 0


class Outbox:
    """Segment files under ``directory``; see the module docstring."""

    def __init__(self, directory: Path) -> None:
        self._dir = Path(directory)
        self._prefix = f"usage-{os.getpid()}-{secrets.token_hex(4)}"
        self._count = 0
        self._segments: dict[int, _Segment] = {}
        self._current: int | None = None

    def open(self) -> list[UsageEntry]:
        """Create the directory, claim orphaned segments; returns their entries to replay."""
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        replay: list[UsageEntry] = []
        for path in sorted(self._dir.glob("usage-*.jsonl")):
            fd = os.open(path, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # a live process owns it
                os.close(fd)
                continue
            entries = self._read(path)
            number = self._new_number()
            self._segments[number] = _Segment(path, fd, outstanding=len(entries))
            for entry in entries:
                entry.segment = number
            replay += entries
            if not entries:
                self._drop(number)
        if replay:
            logger.warning("replaying %d usage entries left by a stopped gateway", len(replay))
        self._rotate()
        return replay

    @staticmethod
    def _read(path: Path) -> list[UsageEntry]:
        entries = []
        for line in path.read_bytes().splitlines():
            try:
                entries.append(_decode(line))
            except (ValueError, TypeError, KeyError):  # a line cut short by the kill
                logger.warning("skipping a torn usage line in %s", path)
        return entries

    def _new_number(self) -> int:
        self._count += 1
        return self._count

    def _rotate(self) -> None:
        number = self._new_number()
        path = self._dir / f"{self._prefix}-{number}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        previous = self._current
        self._segments[number] = _Segment(path, fd)
        self._current = number
        if previous is not None and self._segments[previous].outstanding == 0:
            self._drop(previous)

    def append(self, entry: UsageEntry) -> None:
        """Write ``entry`` ahead of everything else; raises OSError if the disk refuses."""
        assert self._current is not None, "Outbox.open() first"
        segment = self._segments[self._current]
        line = _encode(entry)
        os.write(segment.fd, line)
        entry.segment = self._current
        segment.outstanding += 1
        segment.size += len(line)
        if segment.size >= _SEGMENT_BYTES:
            self._rotate()

    def written(self, entries: list[UsageEntry]) -> None:
        """``entries`` are in the database: segments with nothing left are deleted."""
        for entry in entries:
            segment = self._segments.get(entry.segment)
            if segment is not None:
                segment.outstanding -= 1
        for number in [n for n, s in self._segments.items() if s.outstanding <= 0]:
            if number != self._current:
                self._drop(number)

    def _drop(self, number: int) -> None:
        segment = self._segments.pop(number)
        segment.path.unlink(missing_ok=True)
        os.close(segment.fd)

    def close(self) -> None:
        """Release every segment; what is still outstanding stays on disk for the next start."""
        for number in list(self._segments):
            segment = self._segments[number]
            if segment.outstanding <= 0:
                self._drop(number)
            else:
                os.close(self._segments.pop(number).fd)
        self._current = None
