"""The local stack's record (``stack.json`` in the state directory), shared by subcommands."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from inferstack.config import default_state_dir

__all__ = ["read_stack", "stack_path", "write_stack"]


def stack_path(state_dir: str | Path | None = None) -> Path:
    return Path(state_dir or default_state_dir()) / "stack.json"


def write_stack(record: dict[str, Any], state_dir: str | Path | None = None) -> Path:
    path = stack_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return path


def read_stack(state_dir: str | Path | None = None) -> dict[str, Any] | None:
    path = stack_path(state_dir)
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data
