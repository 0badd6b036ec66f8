"""Files kept by content hash: every document the pipeline processes is copied once into the
state folder as ``<sha256><suffix>`` (0600), so it can be reprocessed or exported as ground
truth later, whichever path it came from (an upload, ``idp process``)."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

__all__ = ["file_sha256", "keep_bytes", "keep_file", "stored_file"]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _private(files_dir: Path, name: str) -> tuple[Path, Path]:
    files_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return files_dir / name, files_dir / f"{name}.part"


def keep_bytes(files_dir: Path, data: bytes, suffix: str) -> Path:
    """``data`` under its hash (written once, atomically, mode 0600 from creation)."""
    path, part = _private(files_dir, f"{hashlib.sha256(data).hexdigest()}{suffix}")
    if not path.exists():
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(part, path)
    return path


def keep_file(files_dir: Path, source: Path, sha256: str) -> Path:
    """A copy of ``source`` (whose hash is ``sha256``) under its hash, streamed, 0600."""
    path, part = _private(files_dir, f"{sha256}{source.suffix.lower()}")
    if path.exists() or path.resolve() == source.resolve():
        return path
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out, source.open("rb") as f:
        shutil.copyfileobj(f, out, 1 << 20)
    os.replace(part, path)
    return path


def stored_file(files_dir: Path, sha256: str) -> Path | None:
    """The kept file with this hash, if any."""
    if not files_dir.is_dir():
        return None
    return next((p for p in files_dir.glob(f"{sha256}.*") if not p.name.endswith(".part")), None)
