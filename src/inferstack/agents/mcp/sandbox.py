"""Paths confined to a set of root directories.

Every path is resolved with ``realpath`` (symlinks and ``..`` followed) and then checked on a
separator boundary: ``/srv/data_evil`` is not inside ``/srv/data`` (the prefix-bypass of the
reference filesystem server, CVE-2025-53110), and a symlink inside a root that points out of
it resolves outside and is refused (its symlink escape, CVE-2025-53109). Null bytes are
refused before anything touches the filesystem. Files are then opened with ``O_NOFOLLOW`` so a
symlink swapped in after the check is not followed either.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["Sandbox", "SandboxError"]


class SandboxError(ValueError):
    """A path outside the roots, or one that is not a path at all."""


class Sandbox:
    def __init__(self, roots: Sequence[str | Path]) -> None:
        if not roots:
            raise ValueError("a sandbox needs at least one root directory")
        resolved = []
        for root in roots:
            real = os.path.realpath(root)
            if not os.path.isdir(real):
                raise ValueError(f"sandbox root {root} is not a directory")
            resolved.append(real)
        self.roots: list[str] = resolved

    def contains(self, real: str) -> bool:
        """Whether an already resolved path is a root or lies below one (separator boundary)."""
        for root in self.roots:
            boundary = root if root.endswith(os.sep) else root + os.sep
            if real == root or real.startswith(boundary):
                return True
        return False

    def resolve(self, path: str) -> Path:
        """The real path of ``path`` (relative paths are taken from the first root), or
        :class:`SandboxError` when it is outside every root."""
        if "\x00" in path:
            raise SandboxError("the path contains a null byte")
        if not path.strip():
            raise SandboxError("the path is empty")
        expanded = os.path.expanduser(path) if path.startswith("~") else path
        joined = expanded if os.path.isabs(expanded) else os.path.join(self.roots[0], expanded)
        real = os.path.realpath(joined)
        if not self.contains(real):
            raise SandboxError(f"{path} is outside the allowed directories")
        return Path(real)

    def relative(self, real: Path) -> str:
        """How to show a resolved path to the model: relative to its root."""
        text = str(real)
        for root in self.roots:
            if text == root:
                return "."
            if text.startswith(root + os.sep):
                return text[len(root) + 1 :]
        return text

    def open_read(self, real: Path) -> int:
        return os.open(real, os.O_RDONLY | os.O_NOFOLLOW)

    def open_write(self, real: Path) -> int:
        if not self.contains(os.path.realpath(real.parent)):
            raise SandboxError(f"{real.parent} is outside the allowed directories")
        return os.open(real, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
