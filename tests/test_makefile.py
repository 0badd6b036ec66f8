"""`make test` runs every check and shows what it skipped; the peers it needs are built by it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from inferstack.bench.peers.llama_server import _NO_AMX

ROOT = Path(__file__).resolve().parents[1]


def _dry_run(target: str) -> str:
    make = shutil.which("make")
    if make is None:
        pytest.fail("make is not installed")
    # -n prints the recipes without running any of them.
    out = subprocess.run(
        [make, "-n", target],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return out.stdout


def test_pytest_prints_skip_reasons() -> None:
    (line,) = [ln for ln in _dry_run("test-only").splitlines() if "pytest" in ln]
    assert re.search(r"(^|\s)-rs(\s|$)", line), line


def test_make_test_builds_the_benchmark_peers() -> None:
    text = (ROOT / "Makefile").read_text()
    (test_line,) = [ln for ln in text.splitlines() if ln.startswith("test:")]
    assert "peers" in test_line.split()
    recipe = _dry_run("peers")
    assert "bench peer llama-server --build-only" in recipe
    assert "bench peer litellm --build-only" in recipe


def test_the_peer_build_uses_the_makefiles_no_amx_flags() -> None:
    (line,) = [ln for ln in (ROOT / "Makefile").read_text().splitlines() if ln.startswith("NO_AMX")]
    assert line.split(":=", 1)[1].strip() == _NO_AMX
