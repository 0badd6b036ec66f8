"""The local stack's record (``stack.json`` in the state directory), shared by subcommands."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from inferstack.config import default_state_dir

__all__ = ["read_stack", "stack_path", "write_private", "write_stack"]


def stack_path(state_dir: str | Path | None = None) -> Path:
    return Path(state_dir or default_state_dir()) / "stack.json"


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 from the moment the file exists.

    Atomic: a temporary file opened with mode 0600 (no chmod-after-write window in which
    another user could open it), then renamed over ``path``.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def write_stack(record: dict[str, Any], state_dir: str | Path | None = None) -> Path:
    path = stack_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(path, json.dumps(record, indent=2) + "\n")
    return path


def read_stack(state_dir: str | Path | None = None) -> dict[str, Any] | None:
    path = stack_path(state_dir)
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data
