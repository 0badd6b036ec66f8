"""The master key: generated on first start, stored with mode 0600, never a default."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import stat
from pathlib import Path

__all__ = [
    "KEY_PREFIX",
    "MASTER_KEY_PREFIX",
    "ensure_master_key",
    "hash_key",
    "keys_equal",
    "read_master_key",
]

logger = logging.getLogger(__name__)

KEY_PREFIX = "sk-"
MASTER_KEY_PREFIX = "sk-master-"


def hash_key(key: str) -> str:
    """SHA-256 of a key. Keys are 256-bit random secrets, so a fast hash is enough."""
    return hashlib.sha256(key.encode()).hexdigest()


def keys_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def read_master_key(path: Path) -> str:
    """The master key stored at ``path``; refuses a file that others can read."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no master key at {path}: start the gateway once to create it")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise PermissionError(
            f"{path} is readable by others (mode {mode:o}); run: chmod 600 {path}"
        )
    key = path.read_text().strip()
    if not key:
        raise ValueError(f"{path} is empty; delete it to generate a new master key")
    return key


def ensure_master_key(path: Path) -> tuple[str, bool]:
    """Read the master key at ``path``, creating it on first start.

    Returns ``(key, created)``; the caller shows a newly created key once. A key file that
    others can read is refused, like ssh refuses a world-readable private key.
    """
    path = Path(path)
    if path.exists():
        return read_master_key(path), False
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = MASTER_KEY_PREFIX + secrets.token_urlsafe(32)
    # O_EXCL: two replicas starting together never overwrite each other's key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return ensure_master_key(path)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    logger.warning("generated a new gateway master key in %s (mode 0600)", path)
    return key, True
